"""pymsteams is optional (the ``teams-connector`` extra): without it Workflows channels build and the
legacy connector kind fails at channel build with a message that says what to install."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime

import pytest

import alerts.channels.teams
from alerts.channels.registry import build_channels
from alerts.channels.teams import MissingExtra, TeamsConnectorChannel, TeamsWorkflowChannel
from config.receivers import Receiver

URL = "https://example.invalid/hook/SECRET"


def clock() -> datetime:
    return datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def no_pymsteams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymsteams", None)  # `import pymsteams` now raises ImportError


@pytest.mark.usefixtures("no_pymsteams")
def test_the_teams_module_imports_without_pymsteams() -> None:
    path = alerts.channels.teams.__file__
    assert path is not None
    spec = importlib.util.spec_from_file_location("teams_without_pymsteams", path)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


@pytest.mark.usefixtures("no_pymsteams")
def test_workflows_need_no_extra_and_the_legacy_connector_says_what_to_install() -> None:
    workflows = Receiver.model_validate({"name": "ops", "msteamsv2_configs": [{"webhook_url": URL}]})
    (channel,) = build_channels([workflows], clock).values()
    assert isinstance(channel, TeamsWorkflowChannel)

    legacy = Receiver.model_validate({"name": "ops", "msteams_configs": [{"webhook_url": URL}]})
    with pytest.raises(MissingExtra) as caught:
        build_channels([legacy], clock)
    message = str(caught.value)
    assert "receiver 'ops', msteams_configs[0]" in message
    assert "pip install 'lakewarden[teams-connector]'" in message
    assert "SECRET" not in message


def test_with_pymsteams_installed_the_legacy_connector_builds() -> None:
    pytest.importorskip("pymsteams")
    legacy = Receiver.model_validate({"name": "ops", "msteams_configs": [{"webhook_url": URL}]})
    (channel,) = build_channels([legacy], clock).values()
    assert isinstance(channel, TeamsConnectorChannel)
