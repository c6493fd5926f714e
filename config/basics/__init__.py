"""The small vocabulary every lakewarden package shares: severities, time, and state-database basics.

It lives inside ``config`` because ``config`` is the one package all others may import (the import rule:
``config`` imports none of ours; ``alerts`` and ``retrain`` import only ``config``; ``monitor`` composes).
A separate top-level package would add a fifth root to a layout the product fixes; a subpackage keeps
the rule as it is. Nothing here imports the rest of ``config`` either (checked by import-linter), so it
stays a leaf inside the leaf.

- :mod:`config.basics.severity`: the severity tiers and their one order.
- :mod:`config.basics.clock`: the ``Clock`` type, ``utc_now``, ``utc()`` and the one settable clock.
- :mod:`config.basics.sql`: the UTC column type and the write transaction (SQLite and PostgreSQL).
"""
