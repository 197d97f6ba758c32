"""Bearer-token authentication: a token maps to a role and a subject, through its hash.

Settings hold only the SHA-256 digest of each token. Tokens are long random API keys, so a fast
unsalted hash is enough (the pre-image space is too large to search), and looking a digest up in
a dict leaks nothing about the secret through timing. Tokens and digests are never logged.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.claims import Actor, ActorRole

Action = str  # one of the keys of PERMISSIONS

# Who may ask for what. Adjudication still checks ownership (this seller's claim, this buyer's
# order); intake only checks that the role may take the action at all.
PERMISSIONS: Final[Mapping[Action, frozenset[ActorRole]]] = {
    "claim.file": frozenset({"buyer", "agent"}),
    "claim.withdraw": frozenset({"buyer", "agent"}),
    "claim.respond": frozenset({"seller"}),
    "claim.decide": frozenset({"reviewer"}),
    "claim.appeal": frozenset({"buyer", "seller", "agent"}),
}

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class TokenGrant(BaseModel):
    """One configured token: the digest of the secret, and who presenting it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Sha256Hex
    role: ActorRole
    subject: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    def __repr__(self) -> str:
        return f"TokenGrant(role={self.role!r}, subject={self.subject!r})"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    role: ActorRole
    subject: str

    def as_actor(self) -> Actor:
        return Actor(role=self.role, subject=self.subject)

    def may(self, action: Action) -> bool:
        return self.role in PERMISSIONS[action]


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored in settings for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class TokenRegistry:
    """Finds the principal behind a bearer token."""

    def __init__(self, grants: Iterable[TokenGrant]) -> None:
        self._by_digest = {grant.sha256: Principal(grant.role, grant.subject) for grant in grants}

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal for an ``Authorization: Bearer <token>`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self._by_digest.get(hash_token(token.strip()))


def main(argv: list[str] | None = None) -> int:
    """``python -m intake.auth hash TOKEN`` or ``python -m intake.auth new``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["hash"] and len(args) == 2:
        sys.stdout.write(hash_token(args[1]) + "\n")
        return 0
    if args == ["new"]:
        token = new_token()
        sys.stdout.write(f"token  {token}\nsha256 {hash_token(token)}\n")
        return 0
    sys.stderr.write("usage: python -m intake.auth hash TOKEN | new\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
