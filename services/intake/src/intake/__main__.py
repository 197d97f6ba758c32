"""Run the intake service with its settings: ``python -m intake`` or ``atoz-intake``."""

from __future__ import annotations

from intake.app import create_app
from intake.settings import IntakeSettings
from servicekit.serve import serve


def main() -> None:
    settings = IntakeSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
