"""A private PostgreSQL server for the platform: its own data folder, port and socket.

The server listens on 127.0.0.1 only. The launcher's own superuser work (creating the ``atoz``
role and the service databases) goes through a Unix socket in a folder only the server's user
can enter, with ``trust`` authentication; TCP logins need a password (``md5`` in pg_hba, which
also accepts the SCRAM passwords PostgreSQL 15 stores).

PostgreSQL refuses to run as root. As root the launcher therefore runs ``initdb`` and
``pg_ctl`` as the ``postgres`` user and keeps the server's files where that user can reach
them (see :func:`devstack.config.postgres_root_for`).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg  # type: ignore[import-untyped, unused-ignore]

from devstack.config import HOST, DevstackConfig
from devstack.errors import DevstackError, PrerequisiteError
from devstack.procs import (
    PhaseReporter,
    find_pids,
    pid_is_running,
    port_is_free,
    process_cmdline,
    read_pid,
    run_async,
    run_tool,
    terminate,
    timed,
)

SERVER_USER: Final = "postgres"
ROLE: Final = "atoz"
# A development-only credential, published in the docs and the env file on purpose.
ROLE_PASSWORD: Final = "atoz"  # noqa: S105
DATABASES: Final = ("intake", "adjudication", "metrics")
MIN_MAJOR: Final = 13
STOP_TIMEOUT_S: Final = 30.0
SETTINGS_FILE: Final = "devstack.conf"
_INCLUDE_LINE: Final = f"include_if_exists = '{SETTINGS_FILE}'"
_VERSION_PATTERN: Final = re.compile(r"\(PostgreSQL\) (\d+)")


@dataclass(frozen=True, slots=True)
class PostgresBinaries:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres``, and their major version."""

    bin_dir: Path
    major: int

    def tool(self, name: str) -> str:
        """Full path of the program ``name`` in :attr:`bin_dir`."""
        return str(self.bin_dir / name)


def _candidate_bin_dirs() -> list[Path]:
    found = []
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        found.append(Path(on_path).resolve().parent)
    # Debian keeps the server programs off PATH, one folder per major version; newest first.
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    found += versions
    return found


def parse_major(version_output: str) -> int | None:
    """The major version in ``postgres --version`` output."""
    found = _VERSION_PATTERN.search(version_output)
    return int(found.group(1)) if found else None


def find_binaries(bin_dir: Path | None = None) -> PostgresBinaries:
    """Locate the PostgreSQL server programs; raises :class:`PrerequisiteError` if absent.

    ``bin_dir`` (``DEVSTACK_POSTGRES_BIN``) wins; otherwise ``pg_ctl`` on PATH, then the
    newest ``/usr/lib/postgresql/<major>/bin``.
    """
    candidates = [bin_dir] if bin_dir is not None else _candidate_bin_dirs()
    for candidate in candidates:
        if all((candidate / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            done = subprocess.run(  # noqa: S603 - a path we found, not user text
                [str(candidate / "postgres"), "--version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            major = parse_major(done.stdout)
            if major is None or major < MIN_MAJOR:
                raise PrerequisiteError(
                    f"{candidate} holds PostgreSQL {major or '(unknown version)'}; the devstack "
                    f"needs {MIN_MAJOR} or newer."
                )
            return PostgresBinaries(bin_dir=candidate, major=major)
    where = str(bin_dir) if bin_dir is not None else "on PATH or in /usr/lib/postgresql/*/bin"
    raise PrerequisiteError(
        f"the PostgreSQL server programs (initdb, pg_ctl) are not installed {where} "
        "(apt-get install postgresql-15)."
    )


def server_account() -> pwd.struct_passwd | None:
    """The account the server runs as: ``postgres`` when running as root, else None (us)."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PrerequisiteError(
            f"running as root, but there is no '{SERVER_USER}' user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root)."
        ) from None
    if shutil.which("runuser") is None:
        raise PrerequisiteError(
            "running as root, but runuser (util-linux) is missing to run PostgreSQL as "
            f"'{SERVER_USER}'."
        )
    return account


def _as_server(argv: list[str], account: pwd.struct_passwd | None) -> list[str]:
    if account is None:
        return argv
    runuser = shutil.which("runuser") or "runuser"
    return [runuser, "-u", account.pw_name, "--", *argv]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def render_settings(config: DevstackConfig) -> str:
    """The text of ``devstack.conf``, included from ``postgresql.conf``, rewritten per start."""
    settings = {
        "listen_addresses": _quote(HOST),
        "port": str(config.postgres_port),
        "unix_socket_directories": _quote(str(config.postgres_socket_dir)),
        "shared_buffers": "128MB",
        "max_connections": "200",
        # Off only on request: a crash may then lose the last commits (never corrupts data).
        "synchronous_commit": "on" if config.postgres_synchronous_commit else "off",
        "timezone": _quote("UTC"),
        "log_timezone": _quote("UTC"),
        "log_line_prefix": _quote("%m [%p] %q%u@%d "),
    }
    lines = ["# Written by devstack on every start; edit devstack/postgres.py instead."]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def running_pid(config: DevstackConfig) -> int | None:
    """Pid of this devstack's postmaster, if it is running."""
    data = str(config.postgres_data_dir)
    pid = read_pid(config.postgres_data_dir / "postmaster.pid")
    if pid is not None and pid_is_running(pid) and data in process_cmdline(pid):
        return pid
    strays = find_pids(data)
    return strays[0] if strays else None


def check_port(config: DevstackConfig) -> None:
    """Raise :class:`PrerequisiteError` if another program holds the PostgreSQL port."""
    if not port_is_free(HOST, config.postgres_port):
        raise PrerequisiteError(
            f"port {config.postgres_port} on {HOST} is already taken by another program; stop "
            "it or set DEVSTACK_POSTGRES_PORT to a free port."
        )


def _owned_dir(path: Path, account: pwd.struct_passwd | None) -> None:
    """Create ``path`` (mode 700) for the server's user, refusing anything planted there.

    As root the folder is in world-writable /tmp under a predictable name: a symlink or a folder
    owned by someone else there must not be used.
    """
    if account is None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700)
        os.chown(path, account.pw_uid, account.pw_gid)
        info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != account.pw_uid:
        raise DevstackError(
            f"{path} exists but is not a folder owned by {account.pw_name}; remove it."
        )
    os.chmod(path, 0o700)


def _write_for_server(path: Path, text: str, account: pwd.struct_passwd | None) -> None:
    path.write_text(text)
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _link_log(config: DevstackConfig) -> None:
    """Show the server log among the devstack's other logs."""
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    link = config.postgres_log_link
    if link.is_symlink() and link.readlink() == config.postgres_log:
        return
    link.unlink(missing_ok=True)
    link.symlink_to(config.postgres_log)


def prepare(config: DevstackConfig) -> tuple[PostgresBinaries, pwd.struct_passwd | None]:
    """Check the prerequisites of a start: binaries, the server account, a free port."""
    binaries = find_binaries(config.postgres_bin_dir)
    account = server_account()
    if running_pid(config) is None:
        check_port(config)
    return binaries, account


def ensure_started(
    config: DevstackConfig,
    binaries: PostgresBinaries,
    account: pwd.struct_passwd | None,
    report: PhaseReporter | None = None,
) -> None:
    """Create the cluster if needed, start it unless running, then create role and databases."""
    config.home.mkdir(parents=True, exist_ok=True)
    _owned_dir(config.postgres_root, account)
    config.postgres_root_pointer.write_text(f"{config.postgres_root}\n")
    _link_log(config)
    data = config.postgres_data_dir
    tool_log = config.logs_dir / "postgres-tools.log"

    with timed(report, "postgres initdb") as note:
        version_file = data / "PG_VERSION"
        if version_file.is_file():
            note.detail = "exists"
            cluster_major = version_file.read_text().strip()
            if cluster_major != str(binaries.major):
                raise PrerequisiteError(
                    f"{data} was created by PostgreSQL {cluster_major} but the programs found are "
                    f"version {binaries.major}; remove that folder or set DEVSTACK_POSTGRES_BIN."
                )
        else:
            run_tool(
                _as_server(
                    [
                        binaries.tool("initdb"),
                        "-D",
                        str(data),
                        "-U",
                        SERVER_USER,
                        "--auth-local=trust",
                        "--auth-host=md5",
                        "-E",
                        "UTF8",
                        "--no-locale",
                        "--no-instructions",
                    ],
                    account,
                ),
                what="initdb",
                log=tool_log,
                timeout_s=config.start_timeout_s,
                cwd=config.postgres_root,
            )
            conf = data / "postgresql.conf"
            with conf.open("a") as handle:
                handle.write(f"\n# devstack's settings (port, socket, tuning)\n{_INCLUDE_LINE}\n")
            note.detail = f"PostgreSQL {binaries.major}"

    with timed(report, "postgres start") as note:
        pid = running_pid(config)
        if pid is not None:
            note.detail = f"already running, pid {pid}"
        else:
            _owned_dir(config.postgres_socket_dir, account)
            _write_for_server(data / SETTINGS_FILE, render_settings(config), account)
            run_tool(
                _as_server(
                    [
                        binaries.tool("pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(config.postgres_log),
                        "-w",
                        "-t",
                        str(int(config.start_timeout_s)),
                        "start",
                    ],
                    account,
                ),
                what=f"starting PostgreSQL (server log: {config.postgres_log})",
                log=tool_log,
                timeout_s=config.start_timeout_s + 10,
                cwd=config.postgres_root,
            )
            note.detail = f"pid {running_pid(config)}"

    with timed(report, "postgres bootstrap") as note:
        note.detail = run_async(lambda: _bootstrap(config))


async def _bootstrap(config: DevstackConfig) -> str:
    """Create the ``atoz`` role and the service databases if missing; check a TCP login."""
    created: list[str] = []
    admin = await asyncpg.connect(
        host=str(config.postgres_socket_dir),
        port=config.postgres_port,
        user=SERVER_USER,
        database="postgres",
        timeout=10,
    )
    try:
        if await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE) is None:
            await admin.execute(
                f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD {_quote(ROLE_PASSWORD)}"
            )
            created.append(f"role {ROLE}")
        existing = {row["datname"] for row in await admin.fetch("SELECT datname FROM pg_database")}
        for database in DATABASES:
            if database not in existing:
                await admin.execute(f'CREATE DATABASE "{database}" OWNER "{ROLE}"')
                created.append(database)
    finally:
        await admin.close()
    # The platform logs in over TCP with a password; prove that path works too.
    login = await asyncpg.connect(config.postgres_url, timeout=10)
    try:
        await login.fetchval("SELECT 1")
    finally:
        await login.close()
    return f"created {', '.join(created)}" if created else "role and databases exist"


def stop(config: DevstackConfig) -> bool:
    """Stop the server; False if it was not running.

    SIGINT is PostgreSQL's "fast" shutdown (SIGTERM would wait for every client, e.g. a
    leaked test connection, to disconnect); then SIGQUIT ("immediate"), then SIGKILL.
    """
    pid = running_pid(config)
    if pid is None:
        return False
    terminate(
        pid,
        timeout_s=STOP_TIMEOUT_S,
        first=signal.SIGINT,
        escalation=(signal.SIGQUIT, signal.SIGKILL),
    )
    return True
