"""Log lines: JSON for machines, short lines for a terminal, the Lambda context on each."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest

from loadstar import handler
from loadstar.telemetry import logs


def capture(monkeypatch: pytest.MonkeyPatch, fmt: logs.LogFormat) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    logs.configure_logging("INFO", to_stderr=True, fmt=fmt)
    return out


def test_json_lines_carry_the_event_its_fields_and_the_bound_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = capture(monkeypatch, "json")
    with logs.bound(run_id="r1"):
        logs.event("file_loaded", table="dim_staff", rows=3)
    logs.event("run_finished")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "file_loaded"
    assert (first["run_id"], first["table"], first["rows"]) == ("r1", "dim_staff", 3)
    assert first["level"] == "info"
    assert "run_id" not in second  # the binding ended with its block


def test_console_lines_read_as_key_values(monkeypatch: pytest.MonkeyPatch) -> None:
    out = capture(monkeypatch, "console")
    logs.event("file_failed", logging.ERROR, key="fact/a b.parquet", rows=0, reason=None)
    line = out.getvalue().strip()
    assert " error file_failed " in line
    assert 'key="fact/a b.parquet"' in line
    assert "rows=0" in line
    assert "reason" not in line  # fields without a value are left out
    assert not line.startswith("{")


def test_log_format_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADSTAR_LOG_FORMAT", "json")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    logs.configure_logging("INFO", to_stderr=True)
    logs.event("run_finished")
    assert json.loads(out.getvalue())["event"] == "run_finished"


class Context:
    function_name = "loadstar-prod"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-2:1:function:loadstar-prod"
    aws_request_id = "abc-123"


def test_lambda_fields_use_powertools_names_and_mark_only_the_first_call_cold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handler, "_cold_start", True)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    first: dict[str, Any] = handler.lambda_fields(Context())
    assert first == {
        "cold_start": True,
        "function_name": "loadstar-prod",
        "function_memory_size": 1024,
        "function_arn": Context.invoked_function_arn,
        "function_request_id": "abc-123",
        "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
    }
    assert handler.lambda_fields(Context())["cold_start"] is False
    assert handler.lambda_fields(None) == {
        "cold_start": False,
        "xray_trace_id": first["xray_trace_id"],
    }
