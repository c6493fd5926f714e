"""Exit codes of the ``lakewarden`` command, documented in the README.

``check`` exits with the code of the worst severity over all models; if any model could not be
assessed (its source failed) it exits ``INCOMPLETE`` whatever the others say, because a check that
could not look is not a pass.
"""

from __future__ import annotations

from config.basics.severity import SEVERITIES, severity_rank

OK = 0
ERROR = 1            # a runtime failure: engine, Java, state database
CONFIG_ERROR = 2     # the configuration file cannot be used (also bad command-line usage)
INCOMPLETE = 3       # check: at least one model could not be assessed
BROKEN_PIPE = 141     # stdout closed early (`| head`): ends quietly, as a process killed by SIGPIPE
BLOCKED = 4          # lifecycle start: a guardrail (cooldown, in flight, paused...) did not let the run start
# ok -> 0, then one code per tier in severity order: low 10, medium 11, high 12, critical 13.
SEVERITY: dict[str, int] = {name: OK if name == "ok" else 9 + severity_rank(name) for name in SEVERITIES}
