"""docker-compose.yml and deploy/docker/ agree with the code they deploy.

No Docker engine is needed: the files are read as YAML and text and compared with the names the
code owns, namely the topics of ``contracts.topics``, each service's settings class (its
``env_prefix``, fields and default port), the workspace packages the Dockerfile installs and the
launcher's Prometheus scrape configuration.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from adjudication.settings import AdjudicationSettings
from contracts.access import ALL_NAMES, PRINCIPALS, principal
from contracts.topics import topics_to_create
from dashboard.settings import DashboardSettings
from devstack import compose as compose_scripts
from devstack import prometheus
from devstack.access import grants
from devstack.config import load_config
from devstack.kafka import server_settings
from intake.settings import IntakeSettings
from metrics.settings import MetricsSettings
from servicekit.settings import ServiceSettings
from tests.unit.devstack.test_devstack_kafka_config import parse_properties

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
POSTGRES_INIT_SQL = REPO_ROOT / "deploy" / "docker" / "postgres-init.sql"
KAFKA_PROPERTIES = REPO_ROOT / "deploy" / "docker" / "kafka" / "server.properties"
KAFKA_INIT = REPO_ROOT / "deploy" / "docker" / "kafka" / "init.sh"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "adjudication": AdjudicationSettings,
    "metrics": MetricsSettings,
    "dashboard": DashboardSettings,
}
APP_SERVICES = tuple(SETTINGS)
KAFKA_SERVICES = ("intake", "adjudication", "metrics")  # the dashboard only reads HTTP APIs
DATABASE_SERVICES = tuple(
    name for name, cls in SETTINGS.items() if "database_url" in cls.model_fields
)
INFRASTRUCTURE_SERVICES = ("kafka", "kafka-init", "postgres", "prometheus")
INITDB_FOLDER = "/docker-entrypoint-initdb.d/"


# --- reading the files ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), "docker-compose.yml is not a YAML mapping"
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services mapping"
    return found


@pytest.fixture(scope="module")
def dockerfile() -> str:
    """The Dockerfile with its line continuations joined: one instruction per line."""
    return DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")


def env_prefix(service: str) -> str:
    prefix = SETTINGS[service].model_config.get("env_prefix")
    assert prefix, f"{service}'s settings class has no env_prefix"
    return prefix


def interpolate(value: str) -> str:
    """``value`` as compose passes it when the shell sets nothing: ``${X:-d}`` is d, ``$$`` is $."""
    value = re.sub(r"(?<!\$)\$\{\w+(?::?-([^}]*))?\}", lambda found: found.group(1) or "", value)
    return value.replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "write environment as a mapping, not a list"
    return {str(name): interpolate(str(value)) for name, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) pairs of ``ports`` entries like ``127.0.0.1:8001:8001``."""
    pairs = []
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"write ports as quoted strings, not {entry!r}"
        *_, host, container = entry.removesuffix("/tcp").split(":")
        pairs.append((int(host), int(container)))
    return pairs


def option(tokens: list[str], name: str) -> str | None:
    """The value after ``name`` in a command line, or None when the option is absent."""
    if name not in tokens or tokens.index(name) + 1 == len(tokens):
        return None
    return tokens[tokens.index(name) + 1]


def init_commands() -> list[list[str]]:
    """Each command of kafka-init's script (deploy/docker/kafka/init.sh), as argv lists."""
    commands = []
    for line in KAFKA_INIT.read_text(encoding="utf-8").splitlines():
        tokens = shlex.split(line, comments=True)
        if tokens and tokens[0].startswith("$bin/"):
            commands.append(tokens)
    return commands


def topic_create_commands() -> list[list[str]]:
    return [tokens for tokens in init_commands() if "--create" in tokens]


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", "")
    return test if isinstance(test, str) else " ".join(test)


def broker_properties(services: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The compose broker's server.properties, filled in as start.sh fills it."""
    env = environment(services["kafka"])
    text = KAFKA_PROPERTIES.read_text(encoding="utf-8")
    text = text.replace("@INTERNAL_HOST@", env["KAFKA_INTERNAL_HOST"])
    text = text.replace("@EXTERNAL_ADDRESS@", env["KAFKA_EXTERNAL_ADDRESS"])
    return parse_properties(text.replace("@ADMIN_PASSWORD@", "secret"))


def kafka_internal_bootstrap(services: dict[str, dict[str, Any]]) -> str:
    """host:port of the advertised listener whose host is the kafka service's own name."""
    advertised = broker_properties(services)["advertised.listeners"]
    for listener in advertised.split(","):
        address = listener.split("://", 1)[1]
        if address.rsplit(":", 1)[0] == "kafka":
            return address
    raise AssertionError(f"no listener is advertised as kafka:<port> in {advertised!r}")


def databases_created_by_init_sql() -> set[str]:
    sql = POSTGRES_INIT_SQL.read_text(encoding="utf-8")
    return set(re.findall(r"^\s*CREATE\s+DATABASE\s+(\w+)", sql, re.IGNORECASE | re.MULTILINE))


def dockerfile_services(dockerfile: str) -> set[str]:
    """The SERVICE values the Dockerfile's ``case "${SERVICE}" in a|b|c)`` check accepts."""
    found = re.search(r'case\s+"\$\{SERVICE\}"\s+in\s+([\w|]+)\)', dockerfile)
    assert found, "the Dockerfile no longer checks its SERVICE build arg against a list"
    return set(found.group(1).split("|"))


def workspace_packages() -> dict[str, str]:
    """Workspace member folder of every workspace package name."""
    root = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    members: list[str] = root["tool"]["uv"]["workspace"]["members"]
    packages = {}
    for member in members:
        project = tomllib.loads((REPO_ROOT / member / "pyproject.toml").read_text(encoding="utf-8"))
        packages[project["project"]["name"]] = member
    return packages


# --- the services -----------------------------------------------------------------------------


def test_compose_file_parses_as_yaml_with_services(services: dict[str, dict[str, Any]]) -> None:
    assert all(isinstance(definition, dict) for definition in services.values())


def test_compose_runs_kafka_topics_postgres_prometheus_the_three_services_and_the_dashboard(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services) == {*INFRASTRUCTURE_SERVICES, *APP_SERVICES}


def test_services_start_after_kafka_their_topics_and_their_database(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["kafka-init"].get("depends_on") == {"kafka": {"condition": "service_healthy"}}
    for name in KAFKA_SERVICES:
        wanted = {
            "kafka": {"condition": "service_healthy"},
            "kafka-init": {"condition": "service_completed_successfully"},
        }
        if name in DATABASE_SERVICES:
            wanted["postgres"] = {"condition": "service_healthy"}
        assert services[name].get("depends_on") == wanted, name


def test_the_dashboard_starts_after_the_services_and_reads_them_by_their_compose_names(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(services["dashboard"]["depends_on"]) == set(KAFKA_SERVICES)
    env = environment(services["dashboard"])
    for name in ("adjudication", "metrics"):  # the page reads nothing of intake's
        port = SETTINGS[name].model_fields["http_port"].default
        assert env[f"DASHBOARD_{name.upper()}_URL"] == f"http://{name}:{port}"


def test_every_service_waited_for_as_healthy_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    awaited = {
        dependency
        for definition in services.values()
        for dependency, condition in definition.get("depends_on", {}).items()
        if condition.get("condition") == "service_healthy"
    }
    assert awaited == {"kafka", "postgres"}
    for name in awaited | set(APP_SERVICES):
        assert healthcheck_text(services[name]).strip(), f"{name} has no healthcheck"


# --- Kafka and its topics ---------------------------------------------------------------------


def test_compose_creates_every_contract_topic_with_its_partition_count() -> None:
    created = [
        (option(tokens, "--topic"), int(option(tokens, "--partitions") or 0))
        for tokens in topic_create_commands()
    ]
    assert sorted(created) == sorted(topics_to_create())


def test_topic_creation_can_run_again_and_replicates_once_on_the_single_broker(
    services: dict[str, dict[str, Any]],
) -> None:
    commands = topic_create_commands()
    assert commands
    for tokens in commands:
        assert tokens[0].endswith("/kafka-topics.sh"), tokens
        assert "--if-not-exists" in tokens, tokens
        assert option(tokens, "--replication-factor") == "1", tokens
        assert option(tokens, "--bootstrap-server") == kafka_internal_bootstrap(services), tokens
    assert services["kafka-init"]["image"] == services["kafka"]["image"]


def test_kafka_runs_kraft_combined_mode_without_topic_auto_creation(
    services: dict[str, dict[str, Any]],
) -> None:
    props = broker_properties(services)
    assert set(props["process.roles"].split(",")) == {"broker", "controller"}
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for replication_factor in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[replication_factor] == "1", replication_factor
    controller = props["controller.listener.names"]
    controller_port = next(
        listener.rsplit(":", 1)[1]
        for listener in props["listeners"].split(",")
        if listener.startswith(controller + "://")
    )
    assert props["controller.quorum.voters"] == f"{props['node.id']}@localhost:{controller_port}"
    assert services["kafka"]["entrypoint"][-1] == "/etc/atoz/kafka/start.sh"


def test_kafka_advertises_localhost_9092_to_the_host_and_publishes_it(
    services: dict[str, dict[str, Any]],
) -> None:
    advertised = [
        listener.split("://", 1)[1]
        for listener in broker_properties(services)["advertised.listeners"].split(",")
    ]
    assert "localhost:9092" in advertised
    assert (9092, 9092) in published_ports(services["kafka"])
    # The healthcheck signs in as the admin, as every client must.
    assert "--command-config" in healthcheck_text(services["kafka"])


def test_the_compose_broker_is_as_closed_as_the_launchers(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    mine = broker_properties(services)
    launcher = server_settings(load_config({"DEVSTACK_HOME": str(tmp_path)}), "secret")
    for key in (
        "authorizer.class.name",
        "super.users",
        "allow.everyone.if.no.acl.found",
        "sasl.enabled.mechanisms",
        "sasl.mechanism.inter.broker.protocol",
        "sasl.mechanism.controller.protocol",
        "listener.name.controller.sasl.enabled.mechanisms",
    ):
        assert mine[key] == launcher[key], key
    protocols = {pair.split(":")[1] for pair in mine["listener.security.protocol.map"].split(",")}
    assert protocols == {"SASL_PLAINTEXT"}, "an anonymous listener"


def test_kafka_init_creates_every_principal_and_grants_exactly_the_launchers_acls() -> None:
    commands = init_commands()
    users = {
        option(tokens, "--entity-name") for tokens in commands if "kafka-configs.sh" in tokens[0]
    }
    assert users == {principal.name for principal in PRINCIPALS}
    granted = {
        (
            option(tokens, "--allow-principal"),
            option(tokens, "--operation"),
            "topic" if "--topic" in tokens else "group",
            option(tokens, "--topic") or option(tokens, "--group"),
            option(tokens, "--resource-pattern-type") == "prefixed",
        )
        for tokens in commands
        if "kafka-acls.sh" in tokens[0]
    }
    wanted = {
        (f"User:{g.principal}", g.operation, g.resource, g.name, g.prefixed) for g in grants()
    }
    assert granted == wanted


def test_the_generated_kafka_scripts_and_prometheus_configuration_are_fresh() -> None:
    assert compose_scripts.stale() == [], "run python -m devstack.compose"


def test_no_kafka_password_is_written_in_the_compose_file(compose: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for name in ALL_NAMES:
        variable = compose_scripts.password_variable(name)
        assert f"${{{variable}:?" in text, variable
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()


def test_services_reach_kafka_on_its_internal_listener_as_their_own_principal(
    services: dict[str, dict[str, Any]],
) -> None:
    internal = kafka_internal_bootstrap(services)
    port = internal.rsplit(":", 1)[1]
    assert any(
        listener.endswith(f":{port}")
        for listener in broker_properties(services)["listeners"].split(",")
    ), f"kafka listens on no :{port} listener"
    for name in KAFKA_SERVICES:
        env = environment(services[name])
        prefix = env_prefix(name)
        assert env.get(prefix + "KAFKA_BOOTSTRAP_SERVERS") == internal, name
        assert env.get(prefix + "KAFKA_USERNAME") == principal(name).name, name
        password = services[name]["environment"][prefix + "KAFKA_PASSWORD"]
        assert compose_scripts.password_variable(name) in password, name


# --- each service's settings ------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_service_variable_names_a_field_of_its_settings_class(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    prefixes = tuple(env_prefix(service) for service in APP_SERVICES)
    fields = {env_prefix(name) + field.upper() for field in SETTINGS[name].model_fields}
    settings_variables = {
        variable for variable in environment(services[name]) if variable.startswith(prefixes)
    }
    assert settings_variables, f"{name} sets none of its settings"
    assert settings_variables <= fields, f"{name}: no such setting {settings_variables - fields}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_sets_its_kafka_database_and_http_variables(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    required = ["http_host", "http_port", "log_format"]
    if name in KAFKA_SERVICES:
        required += ["kafka_bootstrap_servers", "kafka_username", "kafka_password"]
    if name in DATABASE_SERVICES:
        required.append("database_url")
    env = environment(services[name])
    missing = [field for field in required if env_prefix(name) + field.upper() not in env]
    assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_environment_is_accepted_by_its_settings_class(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = env_prefix(name)
    for variable in list(os.environ):
        if variable.startswith(prefix):
            monkeypatch.delenv(variable)
    env = {
        key: value for key, value in environment(services[name]).items() if key.startswith(prefix)
    }
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)

    settings = SETTINGS[name]()

    for variable, value in env.items():
        parsed = getattr(settings, variable.removeprefix(prefix).lower())
        if isinstance(parsed, str | int | float):  # structured values: parsing them is the check
            assert str(parsed) == value, variable
    assert settings.http_host == "0.0.0.0"  # noqa: S104  # reachable from outside the container
    assert settings.log_format == "json"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_publishes_and_probes_its_default_http_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    service = services[name]
    default_port = SETTINGS[name].model_fields["http_port"].default
    assert int(environment(service)[env_prefix(name) + "HTTP_PORT"]) == default_port
    assert published_ports(service) == [(default_port, default_port)]
    assert int(service["build"]["args"]["PORT"]) == default_port
    probed = re.search(
        r"http://(?:127\.0\.0\.1|localhost):(\d+)/health/(?:live|ready)\b",
        healthcheck_text(service),
    )
    assert probed, f"{name}'s healthcheck asks no /health/ endpoint"
    assert int(probed.group(1)) == default_port


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DATABASE_SERVICES)
def test_each_database_url_names_a_database_the_postgres_init_script_creates(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    postgres_env = environment(services["postgres"])
    url = urlsplit(environment(services[name])[env_prefix(name) + "DATABASE_URL"])
    assert url.scheme in {"postgresql", "postgres"}
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert (url.username, url.password) == (
        postgres_env["POSTGRES_USER"],
        postgres_env["POSTGRES_PASSWORD"],
    )
    assert url.path.lstrip("/") in databases_created_by_init_sql()


def test_each_database_service_has_a_database_of_its_own(
    services: dict[str, dict[str, Any]],
) -> None:
    databases = [
        urlsplit(environment(services[name])[env_prefix(name) + "DATABASE_URL"]).path
        for name in DATABASE_SERVICES
    ]
    assert len(set(databases)) == len(DATABASE_SERVICES) == 2


def test_postgres_runs_the_init_script_and_serves_the_code_default_port(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:15"
    mounted = [volume.split(":") for volume in postgres.get("volumes", [])]
    assert any(
        (REPO_ROOT / source).resolve() == POSTGRES_INIT_SQL and target.startswith(INITDB_FOLDER)
        for source, target, *_ in mounted
    ), "postgres-init.sql is not mounted into /docker-entrypoint-initdb.d/"
    assert {"intake", "adjudication", "metrics"} <= databases_created_by_init_sql()
    for name in DATABASE_SERVICES:
        default = urlsplit(SETTINGS[name].model_fields["database_url"].default)
        assert published_ports(postgres) == [(default.port, 5432)], name
    assert "pg_isready" in healthcheck_text(postgres)


# --- Prometheus -------------------------------------------------------------------------------


def test_prometheus_reads_the_launchers_scrape_configuration_rendered_for_compose(
    services: dict[str, dict[str, Any]],
) -> None:
    service = services["prometheus"]
    mounts = {
        target: (REPO_ROOT / source).resolve()
        for source, target, *_ in (volume.split(":") for volume in service["volumes"])
    }
    config_flag = next(flag for flag in service["command"] if flag.startswith("--config.file="))
    mounted = mounts[config_flag.split("=", 1)[1]]
    assert mounted == compose_scripts.PROMETHEUS_CONFIG
    # The same renderer as the launcher's, only with compose's host names and grain.
    assert mounted.read_text(encoding="utf-8") == prometheus.scrape_config(
        prometheus.targets(
            {name: SETTINGS[name].model_fields["http_port"].default for name in KAFKA_SERVICES}
        ),
        prometheus.COMPOSE_SCRAPE_SECONDS,
    )


def test_prometheus_scrapes_every_service_with_metrics_at_its_compose_name_and_port(
    services: dict[str, dict[str, Any]],
) -> None:
    scrape = yaml.safe_load(compose_scripts.PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    jobs = {
        job["job_name"]: [target for group in job["static_configs"] for target in group["targets"]]
        for job in scrape["scrape_configs"]
    }
    assert set(jobs) == set(KAFKA_SERVICES) == set(prometheus.SCRAPED)  # the dashboard has none
    for name, found in jobs.items():
        assert found == [f"{name}:{SETTINGS[name].model_fields['http_port'].default}"], name
        assert name in services, name
    assert set(services["prometheus"]["depends_on"]) == set(KAFKA_SERVICES)


def test_prometheus_is_the_official_pinned_image_on_the_launchers_port(
    services: dict[str, dict[str, Any]],
) -> None:
    service = services["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v2\.\d+\.\d+", service["image"])
    assert published_ports(service) == [(prometheus.DEFAULT_PORT, 9090)]
    assert "/-/ready" in healthcheck_text(service)
    assert any(volume.endswith(":/prometheus") for volume in service["volumes"])


# --- the image --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_is_built_from_the_shared_dockerfile_with_its_name(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    build = services[name]["build"]
    assert (REPO_ROOT / build["context"]).resolve() == REPO_ROOT
    assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["args"]["SERVICE"] == name


def test_dockerfile_accepts_exactly_the_services_compose_builds(dockerfile: str) -> None:
    assert dockerfile_services(dockerfile) == set(APP_SERVICES)


def test_dockerfile_services_are_locked_workspace_packages_with_a_main_module(
    dockerfile: str,
) -> None:
    assert '--package "atoz-${SERVICE}"' in dockerfile
    packages = workspace_packages()
    locked = {
        package["name"]
        for package in tomllib.loads((REPO_ROOT / "uv.lock").read_text(encoding="utf-8"))["package"]
    }
    for name in dockerfile_services(dockerfile):
        assert f"atoz-{name}" in packages, f"no workspace package atoz-{name}"
        assert f"atoz-{name}" in locked, f"atoz-{name} is not in uv.lock"
        assert callable(importlib.import_module(f"{name}.app").create_app), name
        assert callable(importlib.import_module(f"{name}.__main__").main), name


def test_dockerfile_copies_every_workspace_pyproject_before_installing_dependencies(
    dockerfile: str,
) -> None:
    lines = dockerfile.splitlines()
    install = next(i for i, line in enumerate(lines) if "--no-install-workspace" in line)
    copied = {
        source
        for line in lines[:install]
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
    }
    wanted = {"pyproject.toml", "uv.lock"} | {
        f"{member}/pyproject.toml" for member in workspace_packages().values()
    }
    assert wanted <= copied, f"not copied before the dependency layer: {wanted - copied}"
    assert re.search(r"uv sync --locked --no-dev --no-install-workspace", lines[install])


def test_dockerfile_builds_on_python_311_slim_and_runs_as_a_user_probing_liveness(
    dockerfile: str,
) -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE) == ["${PYTHON_IMAGE}"] * 2
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users, "the image runs as root"
    assert users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*urllib.*/health/live", dockerfile, re.MULTILINE)
    # The service binds where its settings say (compose sets <SVC>_HTTP_HOST to 0.0.0.0).
    assert re.search(r'^CMD .*python -m \\"\$\{SERVICE\}\\"', dockerfile, re.MULTILINE)


def test_docker_build_context_leaves_out_local_state_but_not_the_sources() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".cache", ".devstack", "**/__pycache__"} <= patterns
    needed = {"pyproject.toml", "uv.lock", "contracts", "services", "deploy", "deploy/local"}
    assert not patterns & needed, f"the image needs {patterns & needed}"
