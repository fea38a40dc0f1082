"""Write the flow definitions as files: deterministic JSON (stable ids, fixed key order, trailing newline)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from claimflow.flow.definitions import all_flows
from claimflow.flow.model import Flow, export
from claimflow.flow.pyprocessors import ProcessorSpec

FLOW_DIRECTORY = Path(__file__).resolve().parents[3] / "flow-definitions"


def render(flow: Flow) -> str:
    return json.dumps(export(flow), indent=2, ensure_ascii=False) + "\n"


def rendered(processors: Mapping[str, ProcessorSpec] | None = None) -> dict[str, str]:
    """File name -> JSON text of every flow definition, from the current processor sources.

    Raises:
        claimflow.flow.definitions.FlowDescriptionError: the processors and the flow description disagree.
    """
    return {flow.file_name: render(flow) for flow in all_flows(processors)}


def write_all(directory: Path = FLOW_DIRECTORY) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def compared(directory: Path = FLOW_DIRECTORY) -> dict[str, bool]:
    """File name -> whether the committed flow file equals a fresh export (False when it is missing)."""
    result = {}
    for name, text in rendered().items():
        path = directory / name
        result[name] = path.is_file() and path.read_text(encoding="utf-8") == text
    return result


def stale(directory: Path = FLOW_DIRECTORY) -> list[str]:
    """Names of the committed flow files that differ from a fresh export (missing files included)."""
    return [name for name, same in compared(directory).items() if not same]
