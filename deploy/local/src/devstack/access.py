"""The broker's principals, their passwords and their ACLs, set up by the launcher.

Passwords are generated once per installation (``<home>/kafka/credentials.json``, mode 600,
never committed) for every principal of :mod:`contracts.access`; the admin's is written into the
storage when it is formatted (KRaft takes SCRAM credentials at format time), and the launcher, as
the admin, then upserts every other principal and its ACLs on each start, so a principal added in
a later release appears on an existing installation too. aiokafka has no calls for SCRAM
credentials or ACLs; confluent-kafka's admin client has both.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported without __all__
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from contracts.access import ADMIN, ALL_NAMES, PRINCIPALS, SASL_MECHANISM, Principal
from devstack.errors import DevstackError

SCRAM_ITERATIONS: Final = 8192
_TIMEOUT_S: Final = 30.0


def load_or_create(path: Path) -> dict[str, str]:
    """Every principal's password: those already in ``path``, new ones for the others."""
    found: dict[str, str] = {}
    if path.is_file():
        found = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    missing = [name for name in ALL_NAMES if name not in found]
    if missing:
        found |= {name: secrets.token_urlsafe(24) for name in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(path.name + ".tmp")
        scratch.write_text(json.dumps(found, indent=2) + "\n")
        os.chmod(scratch, 0o600)  # the broker's passwords: readable by their owner only
        scratch.replace(path)
    return found


@dataclass(frozen=True, slots=True)
class Grant:
    """One ACL: ``principal`` may ``operation`` the topic or group ``name`` (a group name prefix
    when ``prefixed``)."""

    principal: str
    operation: Literal["Read", "Write"]
    resource: Literal["topic", "group"]
    name: str
    prefixed: bool = False


def grants(principals: Iterable[Principal] = PRINCIPALS) -> list[Grant]:
    """Least privilege: each principal reads and writes its own topics and joins its own
    groups; nothing else (the authorizer allows nothing that has no ACL)."""
    found: list[Grant] = []
    for p in principals:
        found += [Grant(p.name, "Read", "topic", topic) for topic in p.reads]
        found += [Grant(p.name, "Write", "topic", topic) for topic in p.writes]
        if p.group_prefix is not None:
            found.append(Grant(p.name, "Read", "group", p.group_prefix, prefixed=True))
    return found


def acl_bindings(principals: Iterable[Principal] = PRINCIPALS) -> list[AclBinding]:
    """:func:`grants` as confluent-kafka's ACL bindings."""
    operations = {"Read": AclOperation.READ, "Write": AclOperation.WRITE}
    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
    return [
        AclBinding(
            kinds[grant.resource],
            grant.name,
            ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
            f"User:{grant.principal}",
            "*",
            operations[grant.operation],
            AclPermissionType.ALLOW,
        )
        for grant in grants(principals)
    ]


def apply(bootstrap_servers: str, passwords: dict[str, str]) -> str:
    """As the admin, create or update every principal's SCRAM credential and ACLs; a note."""
    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap_servers,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": SASL_MECHANISM,
            "sasl.username": ADMIN,
            "sasl.password": passwords[ADMIN],
        }
    )
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            p.name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            passwords[p.name].encode(),
        )
        for p in PRINCIPALS
    ]
    bindings = acl_bindings()
    try:
        for future in admin.alter_user_scram_credentials(upserts).values():
            future.result(timeout=_TIMEOUT_S)
        for future in admin.create_acls(bindings).values():
            future.result(timeout=_TIMEOUT_S)
    except KafkaException as error:
        raise DevstackError(f"Kafka refused the principals or their ACLs: {error}") from None
    return f"{len(upserts)} principals, {len(bindings)} ACLs"
