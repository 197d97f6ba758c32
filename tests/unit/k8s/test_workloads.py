"""deploy/k8s/'s Deployments agree with the code: settings, probes, principals, images, Secrets.

As test_docker_compose.py does for docker-compose.yml: each service's Deployment sets variables
of its settings class (its ``env_prefix`` and fields) that the class accepts, listens on and is
probed at its default port and the paths its app serves, stops within its shutdown grace as the
Dockerfile's user, reaches Kafka as its own ``contracts.access`` principal, requests CPU and
memory, and runs the image of its own service (the one docker-compose builds, or a registry's in
production). Every Secret read is in secrets.example.yaml, which holds placeholders only, or is
one Strimzi writes.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from contracts.access import principal
from dashboard.settings import DashboardSettings
from intake.settings import IntakeSettings
from tests.support.k8s_manifests import (
    APP_SERVICES,
    COMPOSE_FILE,
    DATABASE_SERVICES,
    DOCKERFILE,
    KAFKA_SERVICES,
    SETTINGS,
    TARGETS,
    TOKEN_SERVICES,
    deployment,
    env_prefix,
    environment,
    load_settings,
    main_container,
    pod_spec,
    probe_port,
    quantity,
    rendered,
    secret_refs,
    secrets_template,
    settings_of,
    strimzi_secrets,
)
from tests.support.kustomize import Resource, containers_of, of_kind, split_image

# --- the Deployments and the settings classes -------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_one_deployment_service_and_disruption_budget_per_service(target: str) -> None:
    resources = rendered(target)
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(of_kind(resources, kind)) == set(APP_SERVICES), kind
    for name in APP_SERVICES:
        pod_labels = deployment(resources, name)["spec"]["template"]["metadata"]["labels"]
        selector = deployment(resources, name)["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), name
        assert main_container(deployment(resources, name))["name"] == name
        selectors = {
            "Service": of_kind(resources, "Service")[name]["spec"]["selector"],
            "PodDisruptionBudget": of_kind(resources, "PodDisruptionBudget")[name]["spec"][
                "selector"
            ]["matchLabels"],
        }
        for kind, chosen in selectors.items():
            assert chosen.items() <= pod_labels.items(), f"{kind} {name} selects other pods"
            for other in set(APP_SERVICES) - {name}:
                other_labels = deployment(resources, other)["spec"]["template"]["metadata"][
                    "labels"
                ]
                assert not chosen.items() <= other_labels.items(), f"{kind} {name} selects {other}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_service_variable_names_a_field_of_its_settings_class(target: str, name: str) -> None:
    container = main_container(deployment(rendered(target), name))
    prefixes = tuple(env_prefix(service) for service in APP_SERVICES)
    fields = {env_prefix(name) + field.upper() for field in SETTINGS[name].model_fields}
    variables = {v["name"] for v in container["env"]}
    assert variables <= fields, f"{name}: no such setting {variables - fields}"
    assert all(v.startswith(prefixes) for v in variables)
    assert container.get("envFrom") is None, "name each variable: the test checks them"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_sets_its_kafka_database_http_and_token_variables(
    target: str, name: str
) -> None:
    required = ["http_host", "http_port", "log_format"]
    if name in KAFKA_SERVICES:
        required += ["kafka_bootstrap_servers", "kafka_security_protocol"]
        required += ["kafka_username", "kafka_password"]
    if name in DATABASE_SERVICES:
        required.append("database_url")
    if name in TOKEN_SERVICES:
        required.append("tokens")
    container = main_container(deployment(rendered(target), name))
    variables = {v["name"] for v in container["env"]}
    missing = [field for field in required if env_prefix(name) + field.upper() not in variables]
    assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_environment_is_accepted_by_its_settings_class(target: str, name: str) -> None:
    resources = rendered(target)
    env = environment(resources, main_container(deployment(resources, name)))
    settings = load_settings(name, env)
    prefix = env_prefix(name)
    for variable, value in env.items():
        parsed = getattr(settings, variable.removeprefix(prefix).lower())
        if isinstance(parsed, str | int | float):  # structured values: parsing them is the check
            assert str(parsed) == value, variable
    assert settings.http_host == "0.0.0.0"  # noqa: S104  # reachable from outside the pod
    assert settings.log_format == "json"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_listens_serves_and_is_probed_on_its_default_http_port(
    target: str, name: str
) -> None:
    resources = rendered(target)
    container = main_container(deployment(resources, name))
    default_port = SETTINGS[name].model_fields["http_port"].default
    assert settings_of(resources, name).http_port == default_port
    assert [p["containerPort"] for p in container["ports"]] == [default_port]
    service_ports = of_kind(resources, "Service")[name]["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in service_ports] == [(default_port, "http")]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    probes = [
        container[p] for p in ("readinessProbe", "livenessProbe", "startupProbe") if p in container
    ]
    for probe in probes:
        assert probe_port(container, probe) == default_port
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_serves_the_probed_paths(name: str) -> None:
    app = importlib.import_module(f"{name}.app").create_app(SETTINGS[name](log_format="console"))
    paths = {getattr(route, "path", None) for route in app.routes}
    assert {"/health/live", "/health/ready"} <= paths


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", KAFKA_SERVICES)
def test_each_service_reaches_kafka_as_its_own_principal(target: str, name: str) -> None:
    resources = rendered(target)
    settings = settings_of(resources, name)
    assert settings.kafka_username == principal(name).name
    assert settings.kafka_password is not None
    secret = secrets_template()[f"atoz-{name}"]
    assert secret["kafka-username"] == principal(name).name  # what KEDA signs in as
    protocol = settings.kafka_security_protocol
    assert protocol in {"SASL_PLAINTEXT", "SASL_SSL"}, "no anonymous client"
    if target == "overlays/production":
        assert protocol == "SASL_SSL"
        assert settings.kafka_ca_file, "SASL_SSL with Strimzi's own CA needs its certificate"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", KAFKA_SERVICES)
def test_a_kafka_ca_file_is_mounted_from_a_secret_volume(target: str, name: str) -> None:
    resources = rendered(target)
    ca_file = settings_of(resources, name).kafka_ca_file
    if ca_file is None:
        return
    spec = pod_spec(deployment(resources, name))
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = main_container(deployment(resources, name))["volumeMounts"]
    mount = next(m for m in mounts if Path(ca_file).parent == Path(m["mountPath"]))
    volume = volumes[mount["name"]]
    items = {item["path"]: item["key"] for item in volume["secret"].get("items", [])}
    assert Path(ca_file).name in items, "the CA file is not in the mounted Secret"
    assert (volume["secret"]["secretName"], items[Path(ca_file).name]) in strimzi_secrets(target)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_pod_stops_within_its_grace_and_runs_as_the_images_user(
    target: str, name: str
) -> None:
    resources = rendered(target)
    spec = pod_spec(deployment(resources, name))
    container = main_container(deployment(resources, name))
    pause = 0.0
    if "preStop" in container.get("lifecycle", {}):
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        pause = float(command[1])
    grace = settings_of(resources, name).shutdown_grace_seconds
    assert spec["terminationGracePeriodSeconds"] > grace + pause
    uid = re.search(r"useradd .*--uid (\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert uid, "the Dockerfile creates no user with a fixed uid"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == int(uid.group(1))


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_requests_cpu_and_memory_and_has_a_memory_limit(target: str) -> None:
    for resource in rendered(target):
        for container in containers_of(resource.get("spec", {})):
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            where = f"{resource['metadata']['name']}/{container['name']}"
            assert {"cpu", "memory"} <= set(requests), where
            assert "memory" in limits, where
            assert quantity(limits["memory"]) >= quantity(requests["memory"]), where
            assert "cpu" not in limits, f"{where}: a CPU limit throttles instead of scaling"


def test_the_dashboard_reads_the_services_through_their_services() -> None:
    resources = rendered("base")
    settings = settings_of(resources, "dashboard")
    assert isinstance(settings, DashboardSettings)
    for name, url in settings.upstreams().items():
        parts = urlsplit(url)
        port = of_kind(resources, "Service")[name]["spec"]["ports"][0]["port"]
        assert (parts.scheme, parts.hostname, parts.port) == ("http", name, port), name
    intake = settings_of(resources, "intake")
    assert isinstance(intake, IntakeSettings)
    assert urlsplit(intake.claims_base_url).hostname == "adjudication"


# --- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_each_workload_runs_the_image_of_its_own_service(target: str) -> None:
    resources = rendered(target)
    workloads = [*of_kind(resources, "Deployment").values(), *of_kind(resources, "Job").values()]
    for workload in workloads:
        service = workload["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        image = main_container(workload)["image"]
        assert image == main_container(deployment(resources, service))["image"], image
        name, tag, digest = split_image(image)
        assert name.rsplit("/", 1)[-1] in {f"atoz-{service}", service}, image
        assert tag or digest, f"{image}: pin a release"
        assert tag != "latest", f"{image}: pin a release"


def test_the_base_and_local_images_are_the_ones_docker_compose_builds() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]
    for target in ("base", "overlays/local"):
        for name in APP_SERVICES:
            image = main_container(deployment(rendered(target), name))["image"]
            assert image == compose[name]["image"], (target, name)
            assert compose[name]["build"]["args"]["SERVICE"] == name


def test_production_pulls_every_image_from_a_registry() -> None:
    for resource in rendered("overlays/production"):
        for container in containers_of(resource.get("spec", {})):
            name, tag, _ = split_image(container["image"])
            assert "." in name.split("/", 1)[0], f"{container['image']}: no registry host"
            assert tag != "local", container["image"]


# --- Secrets ----------------------------------------------------------------------------------


def secret_references(resources: list[Resource]) -> Iterator[tuple[str, str]]:
    for resource in resources:
        yield from secret_refs(resource)
        if resource["kind"] == "TriggerAuthentication":
            yield from ((r["name"], r["key"]) for r in resource["spec"]["secretTargetRef"])
        for volume in (
            resource.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", [])
        ):
            if "secret" in volume:
                assert "items" in volume["secret"], "name the keys a Secret volume reads"
                for item in volume["secret"]["items"]:
                    yield volume["secret"]["secretName"], item["key"]


@pytest.mark.parametrize("target", TARGETS)
def test_every_secret_read_is_in_the_template_or_written_by_strimzi(target: str) -> None:
    template = {(name, key) for name, keys in secrets_template().items() for key in keys}
    refs = set(secret_references(rendered(target)))
    assert refs, "no Secret is read"
    assert refs <= template | strimzi_secrets(target), refs - template
    used_names = {name for name, _ in refs}
    assert set(secrets_template()) <= used_names, "the template has Secrets nothing reads"


def test_the_secrets_template_holds_placeholders_not_credentials() -> None:
    for name, keys in secrets_template().items():
        for key, value in keys.items():
            if key in {"kafka-password", "database-url"}:
                assert "REPLACE_ME" in value, f"{name}/{key} looks like a real credential"
            if key == "tokens":
                assert json.loads(value) == [], f"{name}/tokens: no digest in the template"


@pytest.mark.parametrize("name", DATABASE_SERVICES)
def test_each_database_url_placeholder_names_a_database_of_its_own(name: str) -> None:
    url = urlsplit(secrets_template()[f"atoz-{name}"]["database-url"])
    assert url.scheme == "postgresql"
    assert url.path == f"/{name}"
    assert url.password == "REPLACE_ME"
