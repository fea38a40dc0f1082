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
