"""Run pinesh as ``python -m pinesh``."""

from pinesh.cli.main import main

raise SystemExit(main())
