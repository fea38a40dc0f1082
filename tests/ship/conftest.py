"""Session fixtures of the ship tests: the NARs, built once per session (see ship_nars)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .ship_nars import CROSS_TARGET, HOST_TARGET, BuiltNar, build, session_dir


@pytest.fixture(scope="session")
def ship_session_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return session_dir(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def core_nar(ship_session_dir: Path) -> BuiltNar:
    return build(ship_session_dir, "core", HOST_TARGET)


@pytest.fixture(scope="session")
def snowpark_nar(ship_session_dir: Path) -> BuiltNar:
    return build(ship_session_dir, "snowpark", HOST_TARGET)


@pytest.fixture(scope="session")
def cross_core_nar(ship_session_dir: Path) -> BuiltNar:
    return build(ship_session_dir, "core", CROSS_TARGET)


@pytest.fixture(scope="session", params=["core", "snowpark"])
def host_nar(request: pytest.FixtureRequest, ship_session_dir: Path) -> BuiltNar:
    return build(ship_session_dir, request.param, HOST_TARGET)
