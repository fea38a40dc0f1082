"""The real-NiFi integration test's NiFi: one instance per session, from NIFI_HOME, with freshly built NARs.

Without NIFI_HOME every test here is reported as NOT RUN (skipped with that reason, and a line at the end of the
run), never silently passed. ``make it-nifi NIFI_HOME=/path/to/nifi-2.x`` runs them; ``.ci/run`` does when the
shared real-NiFi build is in its cache.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claimflow.flow import nar_build

from .nifi import NiFi, nifi_version

RESULTS_ENV = "CLAIMFLOW_IT_NIFI_RESULTS"  # where to write results.json (default: the session's temp folder)
NOT_RUN = "not run: set NIFI_HOME to a NiFi 2.x install (make it-nifi NIFI_HOME=...)"
_REPORT: dict[str, object] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.nifi)
            if not os.environ.get("NIFI_HOME"):
                item.add_marker(pytest.mark.skip(reason=NOT_RUN))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = [r for key in ("passed", "failed", "skipped", "error") for r in terminalreporter.stats.get(key, [])]
    if not any(getattr(r, "nodeid", "").startswith("tests/it_nifi/") for r in reports):
        return
    if os.environ.get("NIFI_HOME") and _REPORT:  # the NOT RUN line is tests/conftest.py's
        terminalreporter.write_line(f"real-NiFi integration test: {json.dumps(_REPORT, sort_keys=True)}")


def report(key: str, value: object) -> None:
    """Something measured, printed at the end of the run and written to results.json."""
    _REPORT[key] = value


def _base_python() -> str | None:
    """The interpreter this virtualenv was made from (same version as the NARs' bundled wheels), else PATH's."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix) / "bin" / name
    return str(base) if base.exists() else shutil.which(name)


@pytest.fixture(scope="session")
def nars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The core and Snowpark NARs for this machine's Python, built as `make nar` builds them."""
    target = nar_build.TARGETS[f"cp{sys.version_info.major}{sys.version_info.minor}-manylinux_2_28_x86_64"]
    out = tmp_path_factory.mktemp("nars")
    cache = nar_build.REPO_ROOT / "build" / "nar" / "pip-cache"
    return {key: nar_build.build_nar(nar_build.NARS[key], target, out, out / "work", cache)
            for key in ("core", "snowpark")}


@pytest.fixture(scope="session")
def nifi(nars: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[NiFi]:
    install = Path(os.environ["NIFI_HOME"]).resolve()
    python = os.environ.get("NIFI_PYTHON") or _base_python()
    assert python, "no python3.x for NiFi's Python processors (set NIFI_PYTHON)"
    instance = tmp_path_factory.mktemp("nifi") / "nifi"
    running = NiFi.start(install, instance, nars.values(), python)
    report("nifi_version", nifi_version(install))
    report("nifi_start_s", running.timings["start_s"])
    try:
        yield running
    finally:
        running.stop()
        results = Path(os.environ.get(RESULTS_ENV) or instance.parent / "results.json")
        results.write_text(json.dumps(_REPORT, indent=1, sort_keys=True, default=str))
        log = running.home / "logs" / "nifi-app.log"
        if log.exists():
            shutil.copy2(log, results.with_name("nifi-app.log"))
