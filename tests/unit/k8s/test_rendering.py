"""deploy/k8s/ renders, and what it renders is valid for Kubernetes.

No cluster and no kustomize binary are needed: the kustomizations are rendered by the small
renderer in tests/support/kustomize.py, which knows exactly the kustomization fields deploy/k8s
uses and fails on any other. When a ``kustomize`` (or ``kubectl``) binary is on the PATH its
rendering is compared with that one.

Built-in kinds are validated offline, strictly (no unknown field), against the schemas
kubernetes-validate ships; the custom resources (KEDA's ScaledObject and TriggerAuthentication,
Strimzi's KafkaTopic and KafkaUser) are checked field by field in test_scaling_and_kafka.py.
"""

from __future__ import annotations

import shutil
import subprocess

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type hints
import pytest
import yaml

from tests.support.k8s_manifests import (
    K8S,
    NAMESPACE,
    SECRETS_TEMPLATE,
    TARGETS,
    deployment,
    main_container,
    rendered,
)
from tests.support.kustomize import identity, load_documents, of_kind

# What the manifests are validated against: an older release clusters still run (the oldest
# deploy/k8s/README.md promises) and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())

CUSTOM_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"),
}


@pytest.mark.parametrize("target", TARGETS)
def test_each_kustomization_renders_every_resource_once_in_the_namespace(target: str) -> None:
    resources = rendered(target)
    identities = [identity(r) for r in resources]
    assert len(identities) == len(set(identities)), "a resource is rendered twice"
    for resource in resources:
        assert resource["metadata"].get("namespace") == NAMESPACE, identity(resource)
        assert resource["metadata"]["labels"]["app.kubernetes.io/part-of"] == NAMESPACE


def test_no_kustomization_renders_a_secret() -> None:
    for target in TARGETS:
        assert not of_kind(rendered(target), "Secret"), f"{target} renders a Secret"
    for kustomization in K8S.rglob("kustomization.yaml"):
        entries = load_documents(kustomization)[0].get("resources", [])
        assert SECRETS_TEMPLATE not in {(kustomization.parent / e).resolve() for e in entries}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_built_in_resource_is_valid_for_kubernetes(target: str, version: str) -> None:
    for resource in rendered(target):
        if (resource["apiVersion"], resource["kind"]) in CUSTOM_KINDS:
            continue  # checked below, field by field
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as error:
            pytest.fail(f"{identity(resource)}: {error.message}")
        except kubernetes_validate.ValidationError as error:
            where = ".".join(str(part) for part in error.path)
            pytest.fail(f"{identity(resource)} at {where}: {error.message}")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_secrets_template_is_valid_for_kubernetes(version: str) -> None:
    for secret in load_documents(SECRETS_TEMPLATE):
        kubernetes_validate.validate(secret, version, strict=True)
        assert secret["metadata"]["namespace"] == NAMESPACE


def test_the_schema_check_is_strict_enough_to_catch_a_misspelled_field() -> None:
    broken = deployment(rendered("base"), "intake")
    main_container(broken)["readinesProbe"] = main_container(broken).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_every_custom_kind_checked_here_is_rendered() -> None:
    # Any other kind is validated against the Kubernetes schemas, which fails on one they lack.
    kinds = {(r["apiVersion"], r["kind"]) for target in TARGETS for r in rendered(target)}
    assert kinds >= CUSTOM_KINDS, "a custom kind this test checks is no longer rendered"


def kustomize_command() -> list[str] | None:
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    return None


@pytest.mark.parametrize("target", TARGETS)
def test_a_kustomize_binary_renders_what_the_test_renderer_does(target: str) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("no kustomize or kubectl on the PATH (CI has neither: the renderer is used)")
    output = subprocess.run(  # noqa: S603  # a binary found on the PATH, fixed arguments
        [*command, str(K8S / target)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    theirs = {identity(r): r for r in yaml.safe_load_all(output) if r}
    mine = {identity(r): r for r in rendered(target)}
    assert set(theirs) == set(mine)
    for key, resource in mine.items():
        assert theirs[key] == resource, key
