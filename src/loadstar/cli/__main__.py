"""``python -m loadstar.cli``: the same as the ``loadstar`` command."""

from loadstar.cli import main

raise SystemExit(main())
