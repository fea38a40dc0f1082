"""Read a flow-definition file and give back its Python stages in the order the file wires them.

The demo runs ClaimFlow's Python processors offline in exactly the order, with exactly the properties and the
routing, of the flow NiFi would import, so the file (not a second hand-kept list) is what the demo exercises.

``load_python_pipeline(path) -> PythonPipeline``:
- ``flow_name``: the process group's name; ``source``: simple class name of the Java processor feeding the first
  Python stage (``ConsumeKinesisStream``);
- ``stages``: ``PythonStage`` tuple, breadth-first from the source along the connections, each with
  - ``type`` (class name, e.g. ``TransformClaimChange``), ``version`` (bundle version), ``name`` (canvas name);
  - ``properties``: the processor's own property values with ``#{parameter}`` references replaced by the
    parameter context's values (``None`` for a sensitive or valueless parameter); controller-service properties
    are left out and listed in ``services`` instead (property name -> service simple type, e.g.
    ``{"Record Reader": "JsonTreeReader"}``);
  - ``routes``: relationship -> tuple of ``Destination`` (one per connection, in file order; a relationship
    connected twice is cloned by NiFi to both). ``Destination.kind`` is ``"python"`` (``name`` = the next
    stage's type), ``"self"`` (a loop back to this stage, e.g. ``retry``), ``"java"`` (``name`` = simple class
    name, e.g. ``PutSnowpipeStreaming``), ``"funnel"`` (``name`` = the connection's name, e.g. the dead letter)
    or ``"auto-terminated"`` (``name`` = ""); ``connection`` is the connection's name and ``component`` the
    destination's canvas name (e.g. "Snowpipe Streaming: history"). Every relationship of the stage that the
    file connects or auto-terminates is listed.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON_BUNDLE = ("org.apache.nifi", "python-extensions")
_REFERENCE = re.compile(r"#\{([^}]+)\}")


class FlowFileError(ValueError):
    """The flow definition lacks what the reader needs (names the component and the field)."""


@dataclass(frozen=True)
class Destination:
    kind: str  # python | self | java | funnel | auto-terminated
    name: str  # python/self: processor type; java: simple class name; funnel: connection name; else ""
    connection: str = ""  # the connection's name in the file
    component: str = ""  # the destination's canvas name (tells two PutSnowpipeStreaming apart)


@dataclass(frozen=True)
class PythonStage:
    name: str
    type: str
    version: str
    properties: Mapping[str, str | None]
    services: Mapping[str, str]
    routes: Mapping[str, tuple[Destination, ...]]


@dataclass(frozen=True)
class PythonPipeline:
    flow_name: str
    source: str
    stages: tuple[PythonStage, ...]

    def stage(self, type_name: str) -> PythonStage:
        """Raises KeyError when no stage has that processor type."""
        for stage in self.stages:
            if stage.type == type_name:
                return stage
        raise KeyError(f"{self.flow_name}: no Python stage {type_name}")


def _is_python(processor: Mapping[str, Any]) -> bool:
    bundle = processor.get("bundle") or {}
    return (bundle.get("group"), bundle.get("artifact")) == PYTHON_BUNDLE


def _resolve(value: str | None, parameters: Mapping[str, str | None]) -> str | None:
    if value is None:
        return None
    whole = _REFERENCE.fullmatch(value)
    if whole:
        return parameters.get(whole.group(1))
    return _REFERENCE.sub(lambda m: parameters.get(m.group(1)) or "", value)


def load_python_pipeline(path: Path | str) -> PythonPipeline:
    """The Python stages of the flow definition at ``path``, in wiring order (see the module docstring).

    Raises:
        FlowFileError: no Python processor, or no Java source feeding one.
        OSError, json.JSONDecodeError: the file cannot be read as JSON.
    """
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    group = document["flowContents"]
    context_name = group.get("parameterContextName")
    context = (document.get("parameterContexts") or {}).get(context_name) or {"parameters": []}
    parameters = {p["name"]: (None if p.get("sensitive") else p.get("value")) for p in context["parameters"]}
    processors = {p["identifier"]: p for p in group.get("processors", [])}
    services = {s["identifier"]: s for s in group.get("controllerServices", [])}
    connections = group.get("connections", [])
    outgoing: dict[str, list[dict[str, Any]]] = {}
    for connection in connections:
        outgoing.setdefault(connection["source"]["id"], []).append(connection)

    python_ids = [pid for pid, p in processors.items() if _is_python(p)]
    if not python_ids:
        raise FlowFileError(f"{path}: no Python processor in the flow")
    feeding = {c["destination"]["id"]: c["source"]["id"] for c in connections}
    sources = [pid for pid in processors if pid not in feeding and not _is_python(processors[pid])]
    if not sources:
        raise FlowFileError(f"{path}: no Java source processor (every processor has an incoming connection)")
    source_id = sources[0]

    order: list[str] = []
    queue = deque([source_id])
    seen = {source_id}
    while queue:
        current = queue.popleft()
        if current in processors and _is_python(processors[current]):
            order.append(current)
        for connection in outgoing.get(current, []):
            target = connection["destination"]["id"]
            if target not in seen:
                seen.add(target)
                queue.append(target)

    stages = []
    for pid in order:
        processor = processors[pid]
        routes: dict[str, list[Destination]] = {}
        for connection in outgoing.get(pid, []):
            target = connection["destination"]
            for relationship in connection["selectedRelationships"]:
                routes.setdefault(relationship, []).append(_destination(pid, target, connection, processors))
        for relationship in processor.get("autoTerminatedRelationships", []):
            routes.setdefault(relationship, []).append(Destination("auto-terminated", ""))
        descriptors = processor.get("propertyDescriptors") or {}
        own: dict[str, str | None] = {}
        used_services: dict[str, str] = {}
        for name, value in (processor.get("properties") or {}).items():
            if (descriptors.get(name) or {}).get("identifiesControllerService"):
                service = services.get(value)
                used_services[name] = service["type"].rsplit(".", 1)[-1] if service else ""
            else:
                own[name] = _resolve(value, parameters)
        stages.append(
            PythonStage(
                name=processor["name"],
                type=processor["type"],
                version=processor["bundle"]["version"],
                properties=own,
                services=used_services,
                routes={relationship: tuple(dest) for relationship, dest in routes.items()},
            )
        )
    return PythonPipeline(
        flow_name=group.get("name", ""),
        source=processors[source_id]["type"].rsplit(".", 1)[-1],
        stages=tuple(stages),
    )


def _destination(
    source_id: str, target: Mapping[str, Any], connection: Mapping[str, Any], processors: Mapping[str, Any]
) -> Destination:
    name = connection.get("name") or ""
    if target["type"] == "FUNNEL":
        return Destination("funnel", name or "funnel", name)
    processor = processors.get(target["id"])
    if processor is None:
        return Destination(target["type"].lower(), target.get("name", ""), name)
    canvas = processor.get("name", "")
    if target["id"] == source_id:
        return Destination("self", processor["type"], name, canvas)
    if _is_python(processor):
        return Destination("python", processor["type"], name, canvas)
    return Destination("java", processor["type"].rsplit(".", 1)[-1], name, canvas)
