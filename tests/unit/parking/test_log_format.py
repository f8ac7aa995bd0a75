"""PARKLOTSE_LOG_FORMAT: logfmt text for people, or one JSON object a line for a log shipper."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from parking.logs import configure_logging
from parking.settings import CommonSettings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_setting_reads_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKLOTSE_LOG_FORMAT", "json")
    assert CommonSettings().log_format == "json"


def test_the_default_is_text() -> None:
    assert CommonSettings().log_format == "text"


def test_json_lines_carry_the_message_and_extra_fields(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", "json")
    logging.getLogger("parklotse.test").info("stored %d points", 3, extra={"site": "showroom"})
    line = json.loads(capsys.readouterr().err.strip())
    assert line["msg"] == "stored 3 points" and line["site"] == "showroom" and line["level"] == "info"


def test_text_lines_are_logfmt(restored_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("parklotse.test").warning("broker gone")
    assert 'level=warning logger=parklotse.test msg="broker gone"' in capsys.readouterr().err
