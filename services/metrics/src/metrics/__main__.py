"""Run the metrics service with its settings: ``python -m metrics`` or ``atoz-metrics``."""

from __future__ import annotations

from metrics.app import create_app
from metrics.settings import MetricsSettings
from servicekit.serve import serve


def main() -> None:
    settings = MetricsSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
