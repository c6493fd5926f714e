"""The status page's templates (Jinja2, autoescaped, in ``templates/``): one inline stylesheet, no script."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

ENV = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                  autoescape=select_autoescape(default=True, default_for_string=True))
