"""What every service runs on: a settings base, structlog configured once, health probes.

Services meet only on topics and HTTP; this package holds plumbing, never domain rules.
"""
