"""A database a test says must not be reached: any use of it fails the test."""

from __future__ import annotations

from typing import NoReturn


class UnreachableDatabase:
    """Stands for a pool; asking it anything (``acquire``, ``fetch``...) is an assertion error."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the request reached the database ({name})")
