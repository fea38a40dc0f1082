"""Shared test setup: the offline ``nifiapi`` stand-in on sys.path, and a TestRunner factory fixture."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claimflow_offline import install_standin

install_standin()
# The suite runs MergeClaimsToSnowflake on Snowpark local testing, which production refuses without this variable.
os.environ["CLAIMFLOW_ALLOW_SNOWPARK_LOCAL_TESTING"] = "1"

from claimflow_offline.runner import TestRunner  # noqa: E402 - after the stand-in is installed


@pytest.fixture
def runner() -> Callable[..., TestRunner]:
    """``runner(ProcessorClassOrPathOrName, infer_schema_like_nifi=False)`` -> a fresh TestRunner."""

    def make(processor: type | str | Path, **kwargs: Any) -> TestRunner:
        return TestRunner(processor, **kwargs)

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for the real-NiFi integration test when it did not run (here, not in tests/it_nifi: under xdist
    only this conftest reaches the controller's terminal)."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any(getattr(r, "nodeid", "").startswith("tests/it_nifi/") for r in skipped) and not os.environ.get("NIFI_HOME"):
        terminalreporter.write_line("real-NiFi integration test (tests/it_nifi): NOT RUN — NIFI_HOME is not set; "
                                    "run `make it-nifi NIFI_HOME=/path/to/nifi-2.x`")
