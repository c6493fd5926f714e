"""LAKEWARDEN_STATE_URL replaces state.url: checked like it, and its value (a password) never shown."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_settings
from tests.config.config_support import MINIMAL

PG = "postgresql+psycopg://lakewarden:s3cr3t-pw@db.internal:5432/lakewarden"


def test_the_environment_replaces_the_files_state_url() -> None:
    text = MINIMAL + "state:\n  url: sqlite:///other/state.db\n  busy_timeout: 3s\n"
    settings = parse_settings(text, "test.yaml", {"LAKEWARDEN_STATE_URL": PG})
    assert settings.state.url == PG
    assert settings.state.busy_timeout.total_seconds() == 3  # the rest of the block stays
    assert parse_settings(MINIMAL, "test.yaml", {"LAKEWARDEN_STATE_URL": f" {PG} "}).state.url == PG
    assert parse_settings(MINIMAL, "test.yaml", {"LAKEWARDEN_STATE_URL": ""}).state.url.startswith("sqlite:")


def test_an_unset_variable_in_state_url_is_no_problem_when_the_environment_gives_the_url() -> None:
    text = MINIMAL + "state:\n  url: ${DATABASE_URL}\n"
    assert parse_settings(text, "test.yaml", {"LAKEWARDEN_STATE_URL": PG}).state.url == PG


@pytest.mark.parametrize(("value", "says"), [
    ("mysql://root:s3cr3t-pw@db/x", "not a 'mysql' one"),
    ("postgresql+psycopg://lakewarden:s3cr3t-pw@/lakewarden", "with a host"),
    ("not a url s3cr3t-pw", "a database URL"),
])
def test_an_unusable_url_is_refused_at_state_url_without_showing_it(value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(MINIMAL, "test.yaml", {"LAKEWARDEN_STATE_URL": value})
    text = str(caught.value)
    assert "state.url" in text and "LAKEWARDEN_STATE_URL" in text and says in text
    assert "s3cr3t" not in text
