"""``python -m monitor`` is the ``lakewarden`` command."""

from monitor.cli import main

raise SystemExit(main())
