"""Configuration of the devstack from environment variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devstack.config import (
    KAFKA_VERSION,
    POM_RELATIVE_PATH,
    DevstackConfig,
    find_repo_root,
    load_config,
    postgres_root_for,
)
from devstack.errors import PrerequisiteError

REPO_ROOT = find_repo_root()


def test_the_repository_is_found_from_the_package() -> None:
    assert REPO_ROOT is not None
    assert (REPO_ROOT / POM_RELATIVE_PATH).is_file()


def test_defaults_need_no_environment() -> None:
    config = load_config({})

    assert config.repo_root == REPO_ROOT
    assert config.home == config.repo_root / ".devstack"
    assert config.jar_cache == config.repo_root / ".cache" / "kafka-jars"
    assert config.kafka_jar_dir == config.jar_cache / KAFKA_VERSION
    assert (config.kafka_port, config.kafka_controller_port, config.postgres_port) == (
        9092,
        9093,
        5433,
    )
    assert config.kafka_heap == "512m"
    assert config.postgres_synchronous_commit is True
    assert config.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert config.postgres_url == "postgresql://atoz:atoz@127.0.0.1:5433/postgres"


def test_every_setting_comes_from_the_environment(tmp_path: Path) -> None:
    config = load_config(
        {
            "DEVSTACK_HOME": str(tmp_path / "home"),
            "DEVSTACK_JAR_CACHE": str(tmp_path / "jars"),
            "DEVSTACK_KAFKA_PORT": "29092",
            "DEVSTACK_KAFKA_CONTROLLER_PORT": "29093",
            "DEVSTACK_POSTGRES_PORT": "25433",
            "DEVSTACK_KAFKA_HEAP": "1g",
            "DEVSTACK_POSTGRES_SYNCHRONOUS_COMMIT": "off",
            "DEVSTACK_START_TIMEOUT": "30",
        }
    )

    assert config.home == tmp_path / "home"
    assert config.jar_cache == tmp_path / "jars"
    assert config.kafka_bootstrap_servers == "127.0.0.1:29092"
    assert config.kafka_controller_port == 29093
    assert config.postgres_url == "postgresql://atoz:atoz@127.0.0.1:25433/postgres"
    assert config.kafka_heap == "1g"
    assert config.postgres_synchronous_commit is False
    assert config.start_timeout_s == 30.0
    assert config.logs_dir == tmp_path / "home" / "logs"
    assert config.env_file == tmp_path / "home" / "env"


def test_a_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    config = load_config({"DEVSTACK_HOME": "stack"})

    assert config.home == tmp_path.resolve() / "stack"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEVSTACK_KAFKA_PORT": "kafka"}, "not a port number"),
        ({"DEVSTACK_POSTGRES_PORT": "70000"}, "outside the port range"),
        ({"DEVSTACK_KAFKA_CONTROLLER_PORT": "9092"}, "must all differ"),
        ({"DEVSTACK_KAFKA_HEAP": "lots"}, "not a JVM size"),
        ({"DEVSTACK_POSTGRES_SYNCHRONOUS_COMMIT": "maybe"}, "neither on nor off"),
        ({"DEVSTACK_START_TIMEOUT": "-1"}, "must be positive"),
    ],
)
def test_malformed_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(PrerequisiteError, match=message) as raised:
        load_config(env)

    assert next(iter(env)) in str(raised.value) or "ports" in str(raised.value)


def test_postgres_lives_in_the_home_unless_root(tmp_path: Path) -> None:
    assert postgres_root_for(tmp_path, euid=1000) == tmp_path / "postgres"


def test_as_root_postgres_lives_in_tmp_one_folder_per_home(tmp_path: Path) -> None:
    first = postgres_root_for(tmp_path / "a", euid=0)
    second = postgres_root_for(tmp_path / "b", euid=0)

    assert first.parent == Path("/tmp")  # noqa: S108 - the path under test
    assert re.fullmatch(r"atoz-devstack-[0-9a-f]{12}", first.name)
    assert first != second
    assert first == postgres_root_for(tmp_path / "a", euid=0)


def test_the_postgres_root_can_be_overridden(tmp_path: Path) -> None:
    config = load_config(
        {"DEVSTACK_HOME": str(tmp_path / "home"), "DEVSTACK_POSTGRES_ROOT": str(tmp_path / "pg")}
    )

    assert config.postgres_root == tmp_path / "pg"
    assert config.postgres_data_dir == tmp_path / "pg" / "data"
    assert config.postgres_socket_dir == tmp_path / "pg" / "run"


def test_two_devstacks_share_no_file_but_the_jar_cache(tmp_path: Path) -> None:
    first = load_config({"DEVSTACK_HOME": str(tmp_path / "one")})
    second = load_config({"DEVSTACK_HOME": str(tmp_path / "two")})

    def owned(config: DevstackConfig) -> set[Path]:
        return {
            config.kafka_data_dir,
            config.kafka_pid_file,
            config.kafka_properties,
            config.kafka_log,
            config.postgres_data_dir,
            config.postgres_socket_dir,
            config.postgres_log,
            config.lock_file,
            config.env_file,
        }

    assert not owned(first) & owned(second)
    assert first.kafka_jar_dir == second.kafka_jar_dir


def test_the_pom_pins_the_kafka_version_the_launcher_expects() -> None:
    assert REPO_ROOT is not None
    pom = (REPO_ROOT / POM_RELATIVE_PATH).read_text()

    assert f"<kafka.version>{KAFKA_VERSION}</kafka.version>" in pom
    assert re.search(r"<artifactId>maven-dependency-plugin</artifactId>\s*<version>3\.", pom)
