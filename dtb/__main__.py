"""``python -m dtb`` runs the command-line interface."""

from dtb.cli import main

raise SystemExit(main())
