"""Run the ``lakewarden ...`` examples of README.md and docs/*.md against a prepared world.

A console example is a fenced block (``console``, ``sh``, ``shell``, ``bash``, or any block with
``$ `` prompts). Its info string says where it runs:

- nothing: the ``state`` world (tests/test_docs.py): a folder whose ``config/examples/local.yaml``,
  ``lakewarden.yaml`` and ``config.yaml`` are the shipped local config, with LAKEWARDEN_HOME at the
  folder, and a state database built through the daemon's own notifier (``churn`` firing);
- ``world=demo``: inside tests/monitor/test_demo.py, on the state the real demo left (Spark there);
- ``not-run="why"``: not run (a real Databricks workspace, say); the reason is in the source, and
  tests/test_docs.py caps how many there are.

Each command runs in process (``monitor.cli.main``) from the world's folder. It must exit ``0``,
unless the block shows ``; echo $?`` and the code under it. Under a ``$ `` line, the lines up to the
next prompt are its expected output: each must match a line of the real output (stdout and stderr),
in order; ``...`` alone is skipped, ``...`` inside a line matches anything, a hex id of 8+ characters
matches any, and in the demo world every number matches any number, ``p < 1e-300`` included (the
test's demo is shorter than ``make demo``). ``export NAME=VALUE`` and ``NAME=$(lakewarden ...)`` set
variables for later lines.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^[ \t]*```$", re.M | re.S)
SHELL = ("sh", "shell", "console", "bash")
# Paths the docs use for "your config"; in a world they are its config.
CONFIG_ALIASES = {"/etc/lakewarden/config.yaml": "lakewarden.yaml", "/path/to/.lakewarden/demo/lakewarden.yaml":
                  "lakewarden.yaml"}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    info: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line} ({self.info or 'no language'})"

    @property
    def language(self) -> str:
        return self.info.split(" ")[0] if self.info else ""

    @property
    def options(self) -> dict[str, str]:
        words = shlex.split(self.info)[1:] if self.info else []
        return dict(w.split("=", 1) if "=" in w else (w, "") for w in words)

    @property
    def world(self) -> str | None:
        """``state``, ``demo``, or None when the block is marked not to run."""
        return None if "not-run" in self.options else self.options.get("world", "state")


def blocks() -> list[Block]:
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            body = textwrap.dedent(match.group(3)) if match.group(1) else match.group(3)
            found.append(Block(page.relative_to(REPO).as_posix(), line, match.group(2).strip(), body))
    return found


@dataclass
class Step:
    """One shell line of an example: its command (or assignment) and the output shown under it."""

    line: str
    expected: list[str] = field(default_factory=list)


def steps(block: Block) -> list[Step]:
    """The block's lines, continuations joined; with ``$ `` prompts, the output lines under each."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    prompted = any(raw.startswith("$ ") for raw in joined.splitlines())
    found: list[Step] = []
    for raw in joined.splitlines():
        if prompted:
            if raw.startswith("$ "):
                found.append(Step(raw[2:].strip()))
            elif found:
                found[-1].expected.append(raw.rstrip())
        elif block.language in SHELL and raw.strip() and not raw.strip().startswith("#"):
            found.append(Step(raw.strip()))
    return found


def commands(block: Block) -> list[str]:
    """The ``lakewarden`` command lines of a block (an assignment's too), without ``| ...`` or ``; ...``."""
    if block.language not in SHELL and not any(s.line for s in steps(block)):
        return []
    found = []
    for step in steps(block):
        line = re.sub(r"^\w+=\$\((.*)\)$", r"\1", step.line)
        if line.startswith("lakewarden "):
            found.append(line.split(";")[0].split(" | ")[0])
    return found


def pattern(expected: str, *, any_number: bool) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\.\.\.|[0-9a-f]{8,}|\d[\d,.e+-]*|\s+)", expected.strip()):
        if not piece:
            continue
        if piece == "...":
            parts.append(".*")
        elif re.fullmatch(r"[0-9a-f]{8,}", piece) and re.search(r"\d", piece):
            parts.append("[0-9a-f]{8,}")
        elif piece[0].isdigit() and any_number:
            parts.append(r"[\d,.e+-]+")
        elif piece.isspace():
            parts.append(r"\s+")
        else:
            parts.append(re.escape(piece))
    text = "".join(parts)
    if any_number:  # `p < 1e-300` in a long run is `p 4.0e-227` in a shorter one
        text = text.replace(r"<\s+", r"(?:<\s+)?")
    return re.compile(text)


def unmatched(expected: list[str], actual: str, *, any_number: bool) -> list[str]:
    """The expected lines that do not match the actual output's lines in order (empty: all match)."""
    lines: Iterator[str] = iter(actual.splitlines())
    missing = []
    for want in expected:
        if not want.strip() or want.strip() == "...":
            continue
        regex = pattern(want, any_number=any_number)
        if not any(regex.search(line) for line in lines):
            missing.append(want)
            lines = iter(actual.splitlines())  # report every missing line, not only the first
    return missing


Runner = Callable[[list[str], Mapping[str, str]], tuple[int, str, str]]


def run_block(block: Block, run: Runner, env: dict[str, str], *, any_number: bool = False) -> list[str]:
    """Run every step of a block with ``run(argv, env) -> (code, out, err)``; the problems found."""
    problems: list[str] = []
    for step in steps(block):
        line = step.line
        if line.startswith("export "):
            name, value = line.split(None, 1)[1].split("#")[0].strip().split("=", 1)
            env[name] = CONFIG_ALIASES.get(value, value)
            continue
        assign = re.fullmatch(r"(\w+)=\$\((.*)\)", line)
        command = assign.group(2) if assign else line
        if not command.startswith("lakewarden "):
            problems.append(f"`{line}`: not a lakewarden command; mark the block not-run=\"why\"")
            continue
        command, _, tail = command.partition(";")
        argv = [CONFIG_ALIASES.get(a, a) for a in shlex.split(command.split(" | ")[0], comments=True)[1:]]
        argv = [re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), m.group(0)), a) for a in argv]
        code, out, err = run(argv, env)
        expected = list(step.expected)
        want = 0
        if tail.strip() == "echo $?":
            want = int(expected.pop())
        if code != want:
            problems.append(f"`{line}` exited {code}, the doc implies {want}:\n{out}{err}")
        if assign:
            env[assign.group(1)] = out.strip()
        missing = unmatched(expected, out + err, any_number=any_number)
        if missing:
            problems.append(f"`{line}`: not in its output: {missing}\n--- output:\n{out}{err}")
    return problems
