"""Bearer tokens for the read APIs: SHA-256 digests in settings, as intake does."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.claims import ActorRole


class TokenGrant(BaseModel):
    """One configured token: the digest of the secret, and who presenting it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    role: ActorRole
    subject: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    def __repr__(self) -> str:
        return f"TokenGrant(role={self.role!r}, subject={self.subject!r})"


@dataclass(frozen=True, slots=True)
class Reader:
    role: ActorRole
    subject: str


class Readers:
    def __init__(self, grants: tuple[TokenGrant, ...]) -> None:
        self._by_digest = {g.sha256: Reader(g.role, g.subject) for g in grants}

    def authenticate(self, authorization: str | None) -> Reader | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._by_digest.get(hashlib.sha256(token.strip().encode()).hexdigest())
