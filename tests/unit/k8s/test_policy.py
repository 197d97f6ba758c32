"""On Kubernetes the policy document is the ``atoz-policy`` ConfigMap: the shipped
``policies/default.toml`` byte for byte in the base, a valid document in every overlay, and the
file each service's ``<SVC>_POLICY_FILE`` names, mounted from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.policy import DEFAULT_POLICY_FILE, parse_policy
from tests.support.k8s_manifests import (
    APP_SERVICES,
    SETTINGS,
    TARGETS,
    deployment,
    main_container,
    pod_spec,
    rendered,
    settings_of,
)
from tests.support.kustomize import of_kind

POLICY_SERVICES = tuple(n for n, cls in SETTINGS.items() if "policy_file" in cls.model_fields)
CONFIG_MAP = "atoz-policy"


def _documents(target: str) -> dict[str, str]:
    return dict(of_kind(rendered(target), "ConfigMap")[CONFIG_MAP]["data"])


def test_the_services_that_follow_the_policy_are_the_three_that_judge_and_measure() -> None:
    assert set(POLICY_SERVICES) == {"intake", "adjudication", "metrics"}
    assert set(POLICY_SERVICES) < set(APP_SERVICES)  # the dashboard only reads their APIs


def test_the_base_ships_the_default_policy_byte_for_byte() -> None:
    assert _documents("base") == {"policy.toml": DEFAULT_POLICY_FILE.read_text()}


@pytest.mark.parametrize("target", TARGETS)
def test_every_overlay_holds_a_valid_policy_document(target: str) -> None:
    for key, text in _documents(target).items():
        parse_policy(text, source=f"{target} {CONFIG_MAP}/{key}")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", POLICY_SERVICES)
def test_each_service_reads_its_policy_file_from_the_mounted_config_map(
    target: str, name: str
) -> None:
    resources = rendered(target)
    policy_file = Path(settings_of(resources, name).policy_file)  # type: ignore[attr-defined]  # POLICY_SERVICES have it
    assert policy_file != DEFAULT_POLICY_FILE, f"{name} follows the image's policy, not the map's"
    workload = deployment(resources, name)
    mounts = main_container(workload)["volumeMounts"]
    mount = next(m for m in mounts if policy_file.parent == Path(m["mountPath"]))
    assert mount.get("readOnly") is True
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    source = volumes[mount["name"]]["configMap"]
    assert source["name"] == CONFIG_MAP
    assert policy_file.name in _documents(target)
