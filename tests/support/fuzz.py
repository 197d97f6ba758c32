"""What the schemathesis runs over the services share."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation


def reader_for(case: schemathesis.Case[Any], readers: Sequence[str]) -> str:
    """One of ``readers`` for ``case``, picked from what the case asks for, so that every kind
    of reader meets every kind of input and a case replayed while shrinking has the same one.
    (Schemathesis's coverage and examples phases do not run with ``@schema.given``.)"""
    asked = json.dumps([case.path_parameters, case.query], sort_keys=True, default=str)
    return readers[zlib.crc32(asked.encode()) % len(readers)]


def with_token(case: schemathesis.Case[Any], headers: dict[str, str]) -> dict[str, str]:
    """``headers`` (a bearer token) for the call, unless the case was generated to break its
    headers (no or a malformed ``Authorization``): then none, so the checks judge the request
    the case describes rather than one with a valid token added."""
    meta = case.meta
    if meta is not None and meta.is_negative_at(ParameterLocation.HEADER):
        return {}
    return headers
