"""Offline stand-in for NiFi's Python runtime: run and unit-test ClaimFlow processors without NiFi or a JVM.

- ``standin/nifiapi``: the project's own ``nifiapi`` with the real module, class and method names.
- ``runner.TestRunner``: a test harness in the spirit of NiFi's Java TestRunner.
- ``pipeline.Pipeline``: chains processors by relationship, for the demo and end-to-end tests.
- ``discovery``: NiFi's AST discovery rules, to check a processor folder before it ships.

Processor modules never import from this package; only tests, the demo and tooling do.
"""

from __future__ import annotations

import sys
from pathlib import Path

STANDIN_PATH = Path(__file__).resolve().parent / "standin"


def install_standin() -> Path:
    """Put the stand-in ``nifiapi`` first on ``sys.path`` (as NiFi puts ``python/api`` first) and return its folder.

    Raises:
        RuntimeError: a different ``nifiapi`` (e.g. NiFi's real one) is already imported in this interpreter.
    """
    path = str(STANDIN_PATH)
    if path not in sys.path:
        sys.path.insert(0, path)
    loaded = sys.modules.get("nifiapi")
    if loaded is not None and not getattr(loaded, "STANDIN", False):
        raise RuntimeError(f"another nifiapi is already imported from {getattr(loaded, '__file__', '?')}")
    return STANDIN_PATH
