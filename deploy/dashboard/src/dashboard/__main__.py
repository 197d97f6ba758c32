"""Run the dashboard with its settings: ``python -m dashboard``."""

from __future__ import annotations

from dashboard.app import create_app
from dashboard.settings import DashboardSettings
from servicekit.serve import serve


def main() -> None:
    settings = DashboardSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
