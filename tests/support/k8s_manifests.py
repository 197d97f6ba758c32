"""What the Kustomize manifests in deploy/k8s say, read for the tests comparing them with the code.

The targets rendered (the base and its overlays, each rendered once and handed out as copies),
the services and what their settings classes hold, and the readers: a Deployment's pod spec and
its one container, the environment that container gets (its ConfigMap and Secret keys looked up,
the Secrets' from secrets.example.yaml), the settings its service reads from it, a probe's port,
a Kubernetes quantity, the fewest pods a Deployment runs, and the Secrets Strimzi writes.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adjudication.settings import AdjudicationSettings
from dashboard.settings import DashboardSettings
from intake.settings import IntakeSettings
from metrics.settings import MetricsSettings
from servicekit.settings import ServiceSettings
from tests.support.kustomize import Resource, load_documents, of_kind, render

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy" / "k8s"
SECRETS_TEMPLATE = K8S / "secrets.example.yaml"
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

TARGETS = ("base", "overlays/local", "overlays/production")
OVERLAYS = ("overlays/local", "overlays/production")
NAMESPACE = "atoz"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "adjudication": AdjudicationSettings,
    "metrics": MetricsSettings,
    "dashboard": DashboardSettings,
}
APP_SERVICES = tuple(SETTINGS)
KAFKA_SERVICES = ("intake", "adjudication", "metrics")  # the dashboard only reads HTTP APIs
DATABASE_SERVICES = tuple(n for n, cls in SETTINGS.items() if "database_url" in cls.model_fields)
CONSUMERS = tuple(n for n, cls in SETTINGS.items() if "consumer_group" in cls.model_fields)
TOKEN_SERVICES = tuple(n for n, cls in SETTINGS.items() if "tokens" in cls.model_fields)

STRIMZI_CLUSTER_LABEL = "strimzi.io/cluster"
# The Secrets Strimzi's operators write themselves (its cluster CA's certificate): a manifest may
# read one only where the Strimzi resources are part of the rendering.
STRIMZI_CA_KEY = "ca.crt"


@cache
def _rendered(target: str) -> tuple[Resource, ...]:
    return tuple(render(K8S / target))


def rendered(target: str) -> list[Resource]:
    return copy.deepcopy(list(_rendered(target)))


@cache
def secrets_template() -> dict[str, dict[str, str]]:
    """Secret name -> its keys and placeholder values, from secrets.example.yaml."""
    found = {}
    for secret in load_documents(SECRETS_TEMPLATE):
        assert secret["kind"] == "Secret", secret["kind"]
        found[secret["metadata"]["name"]] = {
            str(k): str(v) for k, v in secret["stringData"].items()
        }
    return found


def env_prefix(service: str) -> str:
    prefix = SETTINGS[service].model_config.get("env_prefix")
    assert prefix, f"{service}'s settings class has no env_prefix"
    return prefix


def deployment(resources: list[Resource], name: str) -> Resource:
    found = of_kind(resources, "Deployment")
    assert name in found, f"no Deployment {name}"
    return found[name]


def pod_spec(workload: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def main_container(workload: Resource) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: one container expected"
    return containers[0]


def secret_refs(node: Any) -> Iterator[tuple[str, str]]:
    """(Secret name, key) of every ``secretKeyRef`` anywhere in ``node``."""
    if isinstance(node, dict):
        if "secretKeyRef" in node:
            yield node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]
        for value in node.values():
            yield from secret_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from secret_refs(item)


def environment(resources: list[Resource], container: dict[str, Any]) -> dict[str, str]:
    """The container's variables, ConfigMap keys and Secret keys (the template's) looked up."""
    config_maps = of_kind(resources, "ConfigMap")
    secrets = secrets_template()
    env = {}
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            env[name] = str(variable["value"])
            continue
        source = variable["valueFrom"]
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] in config_maps, f"{name}: no ConfigMap {ref['name']}"
            data = config_maps[ref["name"]]["data"]
            assert ref["key"] in data, f"{name}: ConfigMap {ref['name']} has no {ref['key']}"
            env[name] = str(data[ref["key"]])
        else:
            ref = source["secretKeyRef"]
            assert ref["name"] in secrets, f"{name}: the template has no Secret {ref['name']}"
            assert ref["key"] in secrets[ref["name"]], f"{name}: {ref['name']} has no {ref['key']}"
            env[name] = secrets[ref["name"]][ref["key"]]
    return env


def load_settings(service: str, env: dict[str, str]) -> ServiceSettings:
    """The service's settings class reading ``env`` (and no other variable of its prefix)."""
    prefix = env_prefix(service)
    with pytest.MonkeyPatch.context() as patch:
        for variable in [v for v in os.environ if v.startswith(prefix)]:
            patch.delenv(variable)
        for variable, value in env.items():
            if variable.startswith(prefix):
                patch.setenv(variable, value)
        return SETTINGS[service]()


def settings_of(resources: list[Resource], service: str) -> ServiceSettings:
    container = main_container(deployment(resources, service))
    return load_settings(service, environment(resources, container))


def probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    assert port in named, f"probe port {port!r} is no port of the container"
    return int(named[port])


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (250m, 192Mi, 1Gi, 2) as a number."""
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    text = str(value)
    for suffix, factor in sorted(suffixes.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def min_replicas(resources: list[Resource], name: str) -> int:
    """The fewest pods the Deployment ``name`` runs: its autoscaler's floor, or its replicas."""
    for hpa in of_kind(resources, "HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == name:
            return int(hpa["spec"].get("minReplicas", 1))
    for scaled in of_kind(resources, "ScaledObject").values():
        if scaled["spec"]["scaleTargetRef"]["name"] == name:
            return int(scaled["spec"].get("minReplicaCount", 0))
    return int(deployment(resources, name)["spec"].get("replicas", 1))


def strimzi_secrets(target: str) -> set[tuple[str, str]]:
    """(name, key) of the CA Secret Strimzi writes for the cluster the rendering's users join."""
    clusters = {
        r["metadata"]["labels"][STRIMZI_CLUSTER_LABEL]
        for r in rendered(target)
        if r["kind"] in {"KafkaTopic", "KafkaUser"}
    }
    return {(f"{cluster}-cluster-ca-cert", STRIMZI_CA_KEY) for cluster in clusters}
