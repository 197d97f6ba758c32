"""Run the adjudication service with its settings: ``python -m adjudication``."""

from __future__ import annotations

from adjudication.app import create_app
from adjudication.settings import AdjudicationSettings
from servicekit.serve import serve


def main() -> None:
    settings = AdjudicationSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
