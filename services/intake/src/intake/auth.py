"""Intake's authentication: a bearer token maps to a role and a subject (see
:mod:`servicekit.auth` for how tokens are stored), and a role may take only its actions."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from contracts.claims import Actor
from servicekit.auth import TokenGrant, TokenRole, hash_token

__all__ = ["PERMISSIONS", "Principal", "TokenGrant", "TokenRegistry", "hash_token", "new_token"]

Action = str  # one of the keys of PERMISSIONS

# Who may ask for what. Adjudication still checks ownership (this seller's claim, this buyer's
# order); intake only checks that the role may take the action at all.
PERMISSIONS: Final[Mapping[Action, frozenset[TokenRole]]] = {
    "claim.file": frozenset({"buyer", "agent"}),
    "claim.withdraw": frozenset({"buyer", "agent"}),
    "claim.respond": frozenset({"seller"}),
    "claim.decide": frozenset({"reviewer"}),
    "claim.appeal": frozenset({"buyer", "seller", "agent"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    role: TokenRole
    subject: str

    def as_actor(self) -> Actor:
        # Only a role with a permission acts, and the operator has none (it reads, and only
        # from the read APIs): every other role is an actor of the claims.
        if self.role == "operator":
            raise ValueError("an operator acts on nothing")
        return Actor(role=self.role, subject=self.subject)

    def may(self, action: Action) -> bool:
        return self.role in PERMISSIONS[action]


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
