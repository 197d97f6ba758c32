"""The pinned Kafka broker jars: fetched once from Maven Central into a git-ignored cache.

The dependency closure is declared in ``deploy/local/kafka-jars/pom.xml``; Maven copies it into
``<jar cache>/<kafka version>/``. A marker file holding the POM's hash says the copy is complete,
so a later start skips Maven entirely and an edited POM triggers a fresh fetch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Final

from devstack.config import KAFKA_VERSION, DevstackConfig
from devstack.errors import DevstackError, PrerequisiteError
from devstack.procs import PhaseReporter, file_lock, run_tool, timed

MARKER: Final = ".complete"
BROKER_JAR: Final = f"kafka_2.13-{KAFKA_VERSION}.jar"
DEPENDENCY_PLUGIN: Final = "org.apache.maven.plugins:maven-dependency-plugin"

# Jars whose presence means the POM drags in the Kafka CLI tools or Connect (dozens of MB of
# Jetty, Jersey and plugins the broker never uses). kafka-tools-api is small and is needed.
_UNWANTED_PREFIXES: Final = ("kafka-tools-4", "connect-", "kafka-streams", "jetty-", "jersey-")


def pom_digest(pom: Path) -> str:
    """SHA-256 of the POM: the cache is complete only for the POM it was fetched with."""
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def jars_complete(jar_dir: Path, pom: Path) -> bool:
    """Whether ``jar_dir`` holds a finished copy of the closure declared by ``pom``."""
    try:
        marker = (jar_dir / MARKER).read_text().strip()
    except OSError:
        return False
    return marker == pom_digest(pom) and (jar_dir / BROKER_JAR).is_file()


def unwanted_jars(names: list[str]) -> list[str]:
    """The jar names among ``names`` that the broker does not need (see module constants)."""
    return sorted(name for name in names if name.startswith(_UNWANTED_PREFIXES))


def find_maven() -> str:
    """Path of ``mvn``; raises :class:`PrerequisiteError` when it is not installed."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PrerequisiteError(
            "Maven (mvn) is not installed; it is needed once to fetch the Kafka jars "
            "(apt-get install maven)."
        )
    return mvn


def ensure_jars(config: DevstackConfig, report: PhaseReporter | None = None) -> Path:
    """Make sure the Kafka jars are in the cache and return their folder.

    Concurrent launchers sharing the cache serialise on a lock; the copy is made in a scratch
    folder and renamed into place, so a half-finished fetch is never mistaken for the cache.
    """
    jar_dir = config.kafka_jar_dir
    with timed(report, "fetch") as note:
        if jars_complete(jar_dir, config.kafka_pom):
            note.detail = "cached"
            return jar_dir
        mvn = find_maven()
        config.jar_cache.mkdir(parents=True, exist_ok=True)
        # Maven Central can be slow; a whole fetch is ~45 MB.
        with file_lock(config.jar_cache / ".lock", timeout_s=900, what="the jar cache"):
            if jars_complete(jar_dir, config.kafka_pom):
                note.detail = "fetched by another devstack"
                return jar_dir
            scratch = config.jar_cache / f".{KAFKA_VERSION}.partial-{os.getpid()}"
            shutil.rmtree(scratch, ignore_errors=True)
            try:
                run_tool(
                    [
                        mvn,
                        "-q",
                        "-B",
                        "-Dstyle.color=never",
                        "-f",
                        str(config.kafka_pom),
                        "dependency:copy-dependencies",
                        "-DincludeScope=runtime",
                        f"-DoutputDirectory={scratch}",
                    ],
                    what="fetching the Kafka jars with Maven",
                    log=config.logs_dir / "maven.log",
                    timeout_s=900,
                    cwd=config.kafka_pom.parent,
                )
                names = [path.name for path in scratch.glob("*.jar")]
                if BROKER_JAR not in names:
                    raise DevstackError(
                        f"Maven did not produce {BROKER_JAR}; check {config.kafka_pom}."
                    )
                unwanted = unwanted_jars(names)
                if unwanted:
                    raise DevstackError(
                        f"{config.kafka_pom} pulls in jars the broker does not need "
                        f"({', '.join(unwanted[:3])}...); exclude them."
                    )
                (scratch / MARKER).write_text(pom_digest(config.kafka_pom) + "\n")
                shutil.rmtree(jar_dir, ignore_errors=True)
                scratch.rename(jar_dir)
            finally:
                # Only a failed fetch leaves it behind: a finished one was renamed.
                shutil.rmtree(scratch, ignore_errors=True)
        note.detail = f"{len(names)} jars via Maven"
    return jar_dir
