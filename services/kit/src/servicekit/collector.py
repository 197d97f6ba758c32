"""The garbage collector tuned for a service that turns messages into pydantic objects.

Each message makes and drops hundreds of small objects; with CPython's default thresholds a
young-generation collection runs every 700 allocations and the older ones often, each pass
walking objects that live for the whole process (the app, its models, the row caches of
:mod:`servicekit.rowcache`). Measured on the order-facts benchmark (``bench/order_facts.py``):
about 6 s of collection for some 30,000 facts through both consuming services with the
defaults, 1.6 s with these. Reference cycles are still collected, only less often.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (20_000, 20, 50)
"""Allocations before a young collection; young collections before a middle one; middle ones
before an old one (CPython's defaults: 700, 10, 10)."""


def tune_for_service() -> None:
    """Freeze what start-up made (it lives as long as the process: never scanned again) and
    collect less often. Call once, after the app is built, before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
