"""deploy/k8s/'s autoscalers, disruption budgets, Strimzi resources and migrations match the code.

intake scales on CPU with a HorizontalPodAutoscaler and each consumer on its consumer group's lag
with KEDA (the ScaledObject and TriggerAuthentication checked field by field: the group its
settings class names, the topics its principal reads, no more replicas than partitions, the
credentials its Deployment reads); every disruption budget leaves room to drain a node. The
Strimzi KafkaTopics are the topics of ``contracts.topics``, the KafkaUsers the principals of
``contracts.access`` with exactly their ACLs. Each database service's migration Job applies the
migrations the service applies at start, against the same database.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from contracts.access import PRINCIPALS, SASL_MECHANISM, principal
from contracts.topics import by_name, topics_to_create
from devstack.access import grants
from servicekit import consumer as servicekit_consumer
from servicekit import postgres
from tests.support.k8s_manifests import (
    CONSUMERS,
    DATABASE_SERVICES,
    KAFKA_SERVICES,
    OVERLAYS,
    SETTINGS,
    STRIMZI_CLUSTER_LABEL,
    TARGETS,
    deployment,
    env_prefix,
    environment,
    load_settings,
    main_container,
    min_replicas,
    pod_spec,
    rendered,
    settings_of,
    strimzi_secrets,
)
from tests.support.kustomize import Resource, of_kind

KEDA_SASL = {"SCRAM-SHA-512": "scram_sha512", "SCRAM-SHA-256": "scram_sha256"}  # KEDA's spelling


# --- autoscaling ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_intake_scales_on_cpu_with_a_horizontal_pod_autoscaler(target: str) -> None:
    resources = rendered(target)
    autoscalers = of_kind(resources, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"intake"}
    spec = autoscalers["intake"]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "intake",
    }
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    [metric] = spec["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    # A utilisation is a share of the request: without one the autoscaler cannot act.
    assert "cpu" in main_container(deployment(resources, "intake"))["resources"]["requests"]


@pytest.mark.parametrize("target", TARGETS)
def test_autoscaled_deployments_leave_their_replica_count_to_the_autoscaler(target: str) -> None:
    resources = rendered(target)
    scaled = {
        hpa["spec"]["scaleTargetRef"]["name"]
        for hpa in of_kind(resources, "HorizontalPodAutoscaler").values()
    }
    scaled |= {
        so["spec"]["scaleTargetRef"]["name"] for so in of_kind(resources, "ScaledObject").values()
    }
    assert scaled == {"intake", *CONSUMERS}
    for name, found in of_kind(resources, "Deployment").items():
        assert ("replicas" in found["spec"]) == (name not in scaled), name


@pytest.mark.parametrize("target", ["base", "overlays/production"])
def test_every_disruption_budget_leaves_room_to_drain_a_node(target: str) -> None:
    resources = rendered(target)
    for name, budget in of_kind(resources, "PodDisruptionBudget").items():
        assert budget["spec"]["minAvailable"] == 1, name
        assert min_replicas(resources, name) >= 2, f"{name}: one pod, so no eviction is allowed"


@pytest.mark.parametrize("target", TARGETS)
def test_each_consumer_scales_on_its_consumer_groups_lag_with_keda(target: str) -> None:
    resources = rendered(target)
    scaled_objects = of_kind(resources, "ScaledObject")
    assert set(scaled_objects) == set(CONSUMERS)
    for name, scaled in scaled_objects.items():
        spec = scaled["spec"]
        target_ref = spec["scaleTargetRef"]
        assert (target_ref.get("apiVersion", "apps/v1"), target_ref.get("kind", "Deployment")) == (
            "apps/v1",
            "Deployment",
        )
        container = main_container(deployment(resources, target_ref["name"]))
        assert target_ref["name"] == name
        assert target_ref["envSourceContainerName"] == container["name"]
        settings = settings_of(resources, name)
        group = getattr(settings, "consumer_group")  # noqa: B009  # a ConsumerSettings field
        assert group == SETTINGS[name].model_fields["consumer_group"].default
        assert group.startswith(principal(name).group_prefix or "\0"), "its principal may not join"

        topics = [trigger["metadata"]["topic"] for trigger in spec["triggers"]]
        assert sorted(topics) == sorted(principal(name).reads), "one trigger per topic it reads"
        # Never to zero (its background loops must run), never past a topic's partitions: a
        # replica with no partition only sits idle.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["maxReplicaCount"] <= min(by_name(topic).partitions for topic in topics)

        auth_names = set()
        tls = settings.kafka_security_protocol == "SASL_SSL"
        for trigger in spec["triggers"]:
            metadata = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert metadata["consumerGroup"] == group
            # A replica is added only once more is waiting than a full poll batch: below
            # that, one replica's next batch takes all of it.
            assert int(metadata["lagThreshold"]) >= getattr(settings, "max_batch")  # noqa: B009
            assert (
                metadata["bootstrapServersFromEnv"] == env_prefix(name) + "KAFKA_BOOTSTRAP_SERVERS"
            )
            assert metadata["bootstrapServersFromEnv"] in {v["name"] for v in container["env"]}
            assert metadata["sasl"] == KEDA_SASL[SASL_MECHANISM]
            assert metadata["tls"] == ("enable" if tls else "disable")
            assert metadata.get("offsetResetPolicy") == consumer_offset_reset()
            auth_names.add(trigger["authenticationRef"]["name"])
        assert len(auth_names) == 1
        check_trigger_authentication(resources, target, auth_names.pop(), name, tls=tls)


def consumer_offset_reset() -> str:
    found = re.search(r'auto_offset_reset="(\w+)"', inspect.getsource(servicekit_consumer))
    assert found, "servicekit's consumer no longer states its auto_offset_reset"
    return found.group(1)


def check_trigger_authentication(
    resources: list[Resource], target: str, auth_name: str, service: str, *, tls: bool
) -> None:
    authentications = of_kind(resources, "TriggerAuthentication")
    assert auth_name in authentications, f"no TriggerAuthentication {auth_name}"
    refs = {
        ref["parameter"]: (ref["name"], ref["key"])
        for ref in authentications[auth_name]["spec"]["secretTargetRef"]
    }
    container = main_container(deployment(resources, service))
    password = next(
        v for v in container["env"] if v["name"] == env_prefix(service) + "KAFKA_PASSWORD"
    )
    ref = password["valueFrom"]["secretKeyRef"]
    assert refs["password"] == (ref["name"], ref["key"])
    assert refs["username"] == (refs["password"][0], "kafka-username")
    assert ("ca" in refs) == tls
    if tls:
        assert refs["ca"] in strimzi_secrets(target)


# --- migrations -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_one_migration_job_per_database_service_with_its_image_and_database(target: str) -> None:
    resources = rendered(target)
    jobs = of_kind(resources, "Job")
    assert set(jobs) == {f"{name}-migrate" for name in DATABASE_SERVICES}
    for name in DATABASE_SERVICES:
        job = jobs[f"{name}-migrate"]
        container = main_container(job)
        assert pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
        assert job["spec"]["backoffLimit"] >= 1
        assert container["command"][:2] == ["python", "-c"]
        variable = env_prefix(name) + "DATABASE_URL"
        job_env = environment(resources, container)
        service_env = environment(resources, main_container(deployment(resources, name)))
        assert job_env == {variable: service_env[variable]}


class StandInPool:
    closed = False

    async def close(self) -> None:
        self.closed = True


class StopStarting(Exception):  # noqa: N818  # not an error: where the stand-in stops a start
    pass


def record_migrations(
    monkeypatch: pytest.MonkeyPatch, *, stop: bool
) -> tuple[StandInPool, list[tuple[str, Any]]]:
    """Stand-ins for servicekit.postgres' pool and migrations that record how they are called;
    with ``stop``, applying the migrations ends a service's start there."""
    pool = StandInPool()
    calls: list[tuple[str, Any]] = []

    async def create_pool(url: str, **options: Any) -> StandInPool:
        calls.append(("create_pool", url))
        return pool

    async def apply_migrations(used: Any, *directories: Path) -> list[str]:
        calls.append(("apply_migrations", (used, directories)))
        if stop:
            raise StopStarting
        return ["servicekit:0001_inbox_outbox"]

    monkeypatch.setattr(postgres, "create_pool", create_pool)
    monkeypatch.setattr(postgres, "apply_migrations", apply_migrations)
    return pool, calls


@pytest.mark.parametrize("name", DATABASE_SERVICES)
def test_each_migration_job_applies_what_its_service_applies_at_start(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = rendered("base")
    container = main_container(of_kind(resources, "Job")[f"{name}-migrate"])
    env = environment(resources, container)
    url = env[env_prefix(name) + "DATABASE_URL"]

    with pytest.MonkeyPatch.context() as patch:
        job_pool, job_calls = record_migrations(patch, stop=False)
        for variable, value in env.items():
            patch.setenv(variable, value)
        script = container["command"][2]
        exec(compile(script, f"{name}-migrate", "exec"), {"__name__": "__main__"})  # noqa: S102
    assert job_pool.closed
    assert "servicekit:0001_inbox_outbox" in capsys.readouterr().out

    # The service's own start, up to its migrations (its lifespan, as uvicorn runs it).
    with pytest.MonkeyPatch.context() as patch:
        service_pool, service_calls = record_migrations(patch, stop=True)
        settings = load_settings(name, {env_prefix(name) + "LOG_FORMAT": "console", **env})
        app = importlib.import_module(f"{name}.app").create_app(settings)

        async def start() -> None:
            async with app.router.lifespan_context(app):
                pass

        with pytest.raises(StopStarting):
            asyncio.run(start())

    store = importlib.import_module(f"{name}.store")
    wanted = [
        ("create_pool", url),
        ("apply_migrations", (job_pool, (postgres.SERVICEKIT_MIGRATIONS, store.MIGRATIONS))),
    ]
    assert job_calls == wanted
    assert service_calls == [
        (call, (service_pool, args[1]) if call == "apply_migrations" else args)
        for call, args in wanted
    ]


# --- Strimzi ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", OVERLAYS)
def test_strimzi_topics_are_the_contracts_topics_with_their_partitions(target: str) -> None:
    resources = rendered(target)
    topics = of_kind(resources, "KafkaTopic")
    found = sorted((t["spec"]["topicName"], t["spec"]["partitions"]) for t in topics.values())
    assert found == sorted(topics_to_create())
    for name, topic in topics.items():
        assert name == topic["spec"]["topicName"].replace(".", "-")
        in_sync = int(topic["spec"]["config"]["min.insync.replicas"])
        assert 1 <= in_sync <= topic["spec"]["replicas"], name
        if target == "overlays/production":
            assert in_sync < topic["spec"]["replicas"], f"{name}: one broker down stops writes"


@pytest.mark.parametrize("target", OVERLAYS)
def test_strimzi_users_are_the_contracts_principals_with_exactly_their_acls(target: str) -> None:
    users = of_kind(rendered(target), "KafkaUser")
    assert set(users) == {p.name for p in PRINCIPALS}
    granted = set()
    for name, user in users.items():
        assert user["spec"]["authentication"]["type"] == SASL_MECHANISM.lower()
        assert user["spec"]["authorization"]["type"] == "simple"
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            assert resource["patternType"] in {"literal", "prefix"}
            for operation in acl["operations"]:
                granted.add(
                    (
                        name,
                        operation,
                        resource["type"],
                        resource["name"],
                        resource["patternType"] == "prefix",
                    )
                )
    assert granted == {(g.principal, g.operation, g.resource, g.name, g.prefixed) for g in grants()}


@pytest.mark.parametrize("target", OVERLAYS)
def test_each_service_user_takes_the_password_its_deployment_reads(target: str) -> None:
    resources = rendered(target)
    users = of_kind(resources, "KafkaUser")
    for name in KAFKA_SERVICES:
        ref = users[name]["spec"]["authentication"]["password"]["valueFrom"]["secretKeyRef"]
        container = main_container(deployment(resources, name))
        password = next(
            v for v in container["env"] if v["name"] == env_prefix(name) + "KAFKA_PASSWORD"
        )
        assert ref == password["valueFrom"]["secretKeyRef"]


@pytest.mark.parametrize("target", OVERLAYS)
def test_strimzi_resources_belong_to_the_cluster_the_services_bootstrap_from(target: str) -> None:
    resources = rendered(target)
    clusters = {
        r["metadata"]["labels"][STRIMZI_CLUSTER_LABEL]
        for r in resources
        if r["kind"] in {"KafkaTopic", "KafkaUser"}
    }
    assert len(clusters) == 1
    [cluster] = clusters
    for name in KAFKA_SERVICES:
        for server in settings_of(resources, name).kafka_bootstrap_servers.split(","):
            host, port = server.rsplit(":", 1)
            assert host == f"{cluster}-kafka-bootstrap", server  # Strimzi's bootstrap Service
            # Strimzi's conventional listeners: 9092 plain, 9093 TLS.
            tls = settings_of(resources, name).kafka_security_protocol == "SASL_SSL"
            assert port == ("9093" if tls else "9092"), server
