"""The CLI's contract: one sentence and exit code 2 for a missing prerequisite."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from typer.testing import CliRunner

from contracts.access import ALL_NAMES
from devstack.api import load_config, write_env_file
from devstack.cli import app

runner = CliRunner()


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    ports = []
    for _ in range(3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    return {
        "DEVSTACK_HOME": str(tmp_path / "home"),
        "DEVSTACK_JAR_CACHE": str(tmp_path / "jars"),
        "DEVSTACK_KAFKA_PORT": str(ports[0]),
        "DEVSTACK_KAFKA_CONTROLLER_PORT": str(ports[1]),
        "DEVSTACK_POSTGRES_PORT": str(ports[2]),
        **extra,
    }


def test_a_bad_setting_is_one_sentence_and_exit_code_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["start"], env=isolated_env(tmp_path, DEVSTACK_KAFKA_PORT="x"))

    assert result.exit_code == 2
    assert "DEVSTACK_KAFKA_PORT" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_java_is_one_sentence_and_exit_code_2(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, PATH=str(tmp_path / "empty"), JAVA_HOME="")

    result = runner.invoke(app, ["start", "--no-postgres"], env=env)

    assert result.exit_code == 2
    assert "Java" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_status_of_a_stopped_devstack_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["status"], env=isolated_env(tmp_path))

    assert result.exit_code == 1
    assert "down" in result.output


def test_stop_of_a_stopped_devstack_is_harmless(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stop"], env=isolated_env(tmp_path))

    assert result.exit_code == 0


def test_env_prints_export_lines(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)

    result = runner.invoke(app, ["env"], env=env)

    assert result.exit_code == 0
    config = load_config(env)
    admin_password = json.loads(config.kafka_credentials_file.read_text())["admin"]
    assert result.output.splitlines() == [
        f"export PLATFORM_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{env['DEVSTACK_KAFKA_PORT']}",
        "export PLATFORM_KAFKA_USERNAME=admin",
        f"export PLATFORM_KAFKA_PASSWORD={admin_password}",
        f"export PLATFORM_KAFKA_CREDENTIALS_FILE={config.kafka_credentials_file}",
        "export PLATFORM_POSTGRES_URL="
        f"postgresql://atoz:atoz@127.0.0.1:{env['DEVSTACK_POSTGRES_PORT']}/postgres",
    ]


def test_logs_path_points_into_the_home(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)

    result = runner.invoke(app, ["logs", "kafka", "--path"], env=env)

    assert result.exit_code == 0
    assert result.output.strip() == str(tmp_path / "home" / "logs" / "kafka.log")


def test_the_env_file_holds_the_platform_settings(tmp_path: Path) -> None:
    config = load_config(isolated_env(tmp_path))

    path = write_env_file(config)

    passwords = json.loads(config.kafka_credentials_file.read_text())
    assert path.read_text().splitlines() == [
        f"PLATFORM_KAFKA_BOOTSTRAP_SERVERS={config.kafka_bootstrap_servers}",
        "PLATFORM_KAFKA_USERNAME=admin",
        f"PLATFORM_KAFKA_PASSWORD={passwords['admin']}",
        f"PLATFORM_KAFKA_CREDENTIALS_FILE={config.kafka_credentials_file}",
        f"PLATFORM_POSTGRES_URL={config.postgres_url}",
    ]
    # It holds a password: its owner's alone, like the credentials it comes from.
    assert path.stat().st_mode & 0o077 == 0
    assert config.kafka_credentials_file.stat().st_mode & 0o077 == 0
    assert set(passwords) == set(ALL_NAMES)
