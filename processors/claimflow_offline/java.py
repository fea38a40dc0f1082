"""Offline models of the two Java processors that route a claim processor's output in both flows (after
ProcessClaimChange in the Openflow flow, after TransformClaimChange in the NiFi flow).

Each models only what the flow uses, and refuses anything else rather than guess:

- :func:`partition_record` is NiFi's PartitionRecord with RecordPaths of the form ``/field``: records grouped by
  the values those paths give, each group written as a JSON array
  (JsonRecordSetWriter's default output grouping). A group FlowFile inherits the parent's attributes and gets one
  attribute per path whose value is a non-null scalar, plus ``record.count``, ``mime.type`` and the
  ``fragment.*`` attributes (PartitionRecord.java). NiFi keeps the groups in a HashMap, so the order of the
  partitions (and ``fragment.index``) is unspecified; here it is the order of each group's first record. Nothing
  downstream may depend on it (the merge orders by each row's version, not by arrival).
- :func:`route_on_attribute` is RouteOnAttribute's "Route to Property name" with two expression forms,
  ``${name:equals('value')}`` and ``${name:isEmpty():not()}``: a copy to every relationship whose expression
  holds, ``unmatched`` when none does, and the ``RouteOnAttribute.Route`` attribute (RouteOnAttribute.java).

tests/it_nifi runs the real processors, configured as the shipped flow configures them, on the same FlowFiles and
compares their outputs with these models'.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from claimflow.record_routing import PARTITION_PATHS, ROUTED_RELATIONSHIPS, ROUTES, UNMATCHED
from claimflow_offline.records import read_records
from claimflow_offline.runner import MockFlowFile

_FIELD_PATH = re.compile(r"/([A-Za-z_][A-Za-z0-9_]*)")
_EQUALS = re.compile(r"\$\{([A-Za-z0-9_.]+):equals\('([^']*)'\)\}")
_NOT_EMPTY = re.compile(r"\$\{([A-Za-z0-9_.]+):isEmpty\(\):not\(\)\}")
ROUTE_ATTRIBUTE = "RouteOnAttribute.Route"


class UnmodelledConfiguration(ValueError):
    """A RecordPath or expression the offline model does not evaluate (names it)."""


def _path_value(record: Mapping[str, Any], path: str) -> str | None:
    match = _FIELD_PATH.fullmatch(path)
    if match is None:
        raise UnmodelledConfiguration(f"RecordPath {path!r}: the offline PartitionRecord evaluates only /field")
    value = record.get(match.group(1))
    if value is None or isinstance(value, dict | list):
        return None  # NiFi adds no attribute for a null or non-scalar value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def partition_record(flowfile: MockFlowFile, paths: Mapping[str, str] = PARTITION_PATHS) -> list[MockFlowFile]:
    """The FlowFiles PartitionRecord sends to ``success`` for ``flowfile`` (see the module docstring)."""
    groups: dict[tuple[str | None, ...], list[dict[str, Any]]] = {}
    for record in read_records(flowfile.content):
        key = tuple(_path_value(record, path) for path in paths.values())
        groups.setdefault(key, []).append(record)
    fragment_id = str(uuid.uuid4())
    out = []
    for index, (key, records) in enumerate(groups.items()):
        attributes = {name: value for name, value in zip(paths, key, strict=True) if value is not None}
        attributes |= {
            "record.count": str(len(records)),
            "mime.type": "application/json",
            "fragment.index": str(index),
            "fragment.identifier": fragment_id,
            "fragment.count": str(len(groups)),
            "segment.original.filename": flowfile.attributes.get("filename", ""),
        }
        content = json.dumps(records, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        out.append(flowfile.child(content, attributes))
    return out


def _holds(expression: str, attributes: Mapping[str, str]) -> bool:
    equals = _EQUALS.fullmatch(expression)
    if equals is not None:
        return attributes.get(equals.group(1)) == equals.group(2)
    not_empty = _NOT_EMPTY.fullmatch(expression)
    if not_empty is not None:
        value = attributes.get(not_empty.group(1))
        return value is not None and value.strip() != ""  # isEmpty: null, empty or only whitespace
    raise UnmodelledConfiguration(f"expression {expression!r}: the offline RouteOnAttribute does not evaluate it")


def route_on_attribute(
    flowfile: MockFlowFile, routes: Mapping[str, str] = ROUTES
) -> list[tuple[str, MockFlowFile]]:
    """(relationship, FlowFile) for every copy RouteOnAttribute sends on (see the module docstring)."""
    matched = [relationship for relationship, expression in routes.items() if _holds(expression, flowfile.attributes)]
    return [
        (relationship, flowfile.modified(attributes={ROUTE_ATTRIBUTE: relationship}))
        for relationship in (matched or [UNMATCHED])
    ]


def route_like_the_flows(flowfiles: list[MockFlowFile]) -> dict[str, list[MockFlowFile]]:
    """A claim processor's ``success`` FlowFiles through PartitionRecord and RouteOnAttribute as the shipped flows
    wire them: relationship (insert, modify, remove, invalid, unmatched) -> FlowFiles."""
    routed: dict[str, list[MockFlowFile]] = {}
    for flowfile in flowfiles:
        for part in partition_record(flowfile):
            for relationship, copy in route_on_attribute(part):
                routed.setdefault(relationship, []).append(copy)
    return routed


class RoutedRunner:
    """A claim processor's TestRunner seen through the flows' Java routing: ``get_flowfiles_for`` gives
    what RouteOnAttribute sends to insert, modify, remove, invalid or unmatched (and the processor's own failure);
    everything else is the runner's. Routes what the runner holds when called, so call it after ``run``."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner

    def routed(self) -> dict[str, list[MockFlowFile]]:
        routed = route_like_the_flows(self.runner.get_flowfiles_for("success"))
        failed = self.runner.get_flowfiles_for("failure")
        return {**routed, "failure": failed} if failed else routed

    def get_flowfiles_for(self, relationship: str) -> list[MockFlowFile]:
        return self.routed().get(relationship, [])

    def relationships(self) -> tuple[str, ...]:
        """Where the routed FlowFiles can go: RouteOnAttribute's relationships and the processor's failure."""
        return (*ROUTED_RELATIONSHIPS, "failure")

    def all_attribute_text(self) -> str:
        """The processor's attributes and those the routing adds (PartitionRecord's cdc.operation, cdc.error)."""
        lines = (f"{k}={v}" for flowfiles in self.routed().values() for f in flowfiles for k, v in f.attributes.items())
        routed = "\n".join(lines)
        return self.runner.all_attribute_text() + "\n" + routed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)
