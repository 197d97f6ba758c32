"""Errors the launcher reports to people rather than as tracebacks."""

from __future__ import annotations


class DevstackError(Exception):
    """A server could not be started, stopped or inspected; the message says why in one sentence."""


class PrerequisiteError(DevstackError):
    """The machine lacks something the launcher needs (a tool, a free port, a valid setting).

    The CLI turns it into one sentence on stderr and exit code 2: nothing was started, and
    retrying without fixing the machine will fail the same way.
    """
