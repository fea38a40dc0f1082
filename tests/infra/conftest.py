"""Fixtures of the infrastructure tests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ._cfn import SOURCE_TEMPLATE, load_template


@pytest.fixture(scope="session")
def source_template() -> dict[str, Any]:
    return copy.deepcopy(load_template(SOURCE_TEMPLATE))
