"""Bearer tokens: settings hold only the SHA-256 digest of each token.

Tokens are long random API keys, so a fast unsalted hash is enough (the pre-image space is too
large to search), and looking a digest up in a dict leaks nothing about the secret through
timing. Tokens and digests are never logged.

:func:`reader_dependency` is how a read API asks for its caller: a FastAPI dependency that
answers 401 without a known token, runs before the route's own parameters are validated (so an
anonymous caller learns nothing from a 422), and declares the bearer scheme in the OpenAPI
document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Final, Literal

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.claims import ActorRole

TokenRole = ActorRole | Literal["operator"]
"""Who a token may be: an actor of the claims, or an ``operator`` who reads every seller and
queue and acts on nothing (no command, no on-behalf-of, no event time): the dashboard's role."""

STAFF: Final[tuple[TokenRole, ...]] = ("reviewer", "agent", "service", "operator")
"""Roles that read every seller's and buyer's records."""


class TokenGrant(BaseModel):
    """One configured token: the digest of the secret, and who presenting it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    role: TokenRole
    subject: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    def __repr__(self) -> str:
        return f"TokenGrant(role={self.role!r}, subject={self.subject!r})"


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in settings for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Reader:
    """Who presented a token."""

    role: TokenRole
    subject: str


class Readers:
    """Finds who is behind an ``Authorization: Bearer <token>`` header."""

    def __init__(self, grants: Iterable[TokenGrant]) -> None:
        self._by_digest = {g.sha256: Reader(g.role, g.subject) for g in grants}

    def authenticate(self, authorization: str | None) -> Reader | None:
        """The reader behind the header, or None (no header, another scheme, unknown token)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._by_digest.get(hash_token(token.strip()))


BEARER_SCHEME: Final = "HTTPBearer"
_BEARER = HTTPBearer(
    auto_error=False,  # the dependency below answers 401 itself, in the shared error shape
    scheme_name=BEARER_SCHEME,
    description="A token whose SHA-256 digest is configured in the service's <SVC>_TOKENS.",
)


def reader_dependency(readers: Readers) -> Callable[..., Awaitable[Reader]]:
    """A FastAPI dependency giving the :class:`Reader` behind the request's bearer token, or
    raising a 401 (``WWW-Authenticate: Bearer``); it documents the bearer scheme."""

    async def authenticated(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> Reader:
        reader = readers.authenticate(request.headers.get("authorization"))
        if reader is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return reader

    return authenticated
