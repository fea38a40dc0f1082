"""A small description language for one NiFi process group, and its export to NiFi's flow-definition JSON.

The JSON is what NiFi 2.x writes in "Download flow definition" (a ``VersionedExternalFlow``) and what the canvas
and the Openflow console import. Every field NiFi's import dereferences without a null check is always written.
Identifiers are UUIDv5 of a fixed namespace and the component's path (flow name / kind / key), so the export is
byte-for-byte reproducible and re-importing a changed flow keeps component identities.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from claimflow.flow.platform import FLOW_ENCODING_VERSION, Bundle

# Fixed namespace of every ClaimFlow component id (uuid5 of the project URL namespace and "claimflow.flow").
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://claimflow.io/flow")


def component_id(flow: str, kind: str, key: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{flow}/{kind}/{key}"))


def parameter_reference(name: str) -> str:
    return "#{" + name + "}"


@dataclass(frozen=True)
class ServiceRef:
    """A property value that points at a controller service of the same flow (by its key)."""

    key: str


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str
    sensitive: bool = False
    value: str | None = None  # sensitive parameters never carry a value (NiFi never exports one either)


@dataclass(frozen=True)
class Service:
    key: str
    name: str
    type: str
    bundle: Bundle
    service_apis: tuple[tuple[str, Bundle], ...]
    properties: Mapping[str, str | ServiceRef]
    sensitive_properties: frozenset[str] = frozenset()
    comments: str = ""


@dataclass(frozen=True)
class Retry:
    """NiFi's framework retry: a FlowFile routed to one of ``relationships`` is rolled back and retried
    ``count`` times with back-off before it is finally transferred."""

    relationships: tuple[str, ...]
    count: int = 10
    backoff: str = "PENALIZE_FLOWFILE"  # or YIELD_PROCESSOR
    max_backoff: str = "10 mins"


@dataclass(frozen=True)
class Processor:
    key: str
    name: str
    type: str  # Java: fully qualified class name; Python: the class name
    bundle: Bundle
    relationships: tuple[str, ...]  # every relationship the processor has
    properties: Mapping[str, str | ServiceRef]
    # relationship -> why it is deliberately auto-terminated (validated: never an unexplained drop)
    auto_terminated: Mapping[str, str] = field(default_factory=dict)
    sensitive_properties: frozenset[str] = frozenset()
    # User-defined properties (PartitionRecord's record paths, RouteOnAttribute's routes): "dynamic" descriptors.
    dynamic_properties: frozenset[str] = frozenset()
    python: bool = False
    retry: Retry | None = None
    concurrent_tasks: int = 1
    penalty: str = "30 sec"
    yield_duration: str = "1 sec"
    scheduling_period: str = "0 sec"
    run_duration_ms: int = 0
    comments: str = ""


@dataclass(frozen=True)
class Funnel:
    key: str
    comments: str = ""


@dataclass(frozen=True)
class Label:
    key: str
    text: str
    width: float = 420.0
    height: float = 120.0


@dataclass(frozen=True)
class Connection:
    source: str  # component key
    relationships: tuple[str, ...]  # empty when the source is a funnel
    destination: str
    name: str = ""
    back_pressure_objects: int = 10000
    back_pressure_size: str = "1 GB"
    expiration: str = "0 sec"  # never expire: an expired FlowFile is a lost claim


@dataclass(frozen=True)
class Flow:
    file_name: str
    name: str
    comments: str
    parameter_context: str
    parameters: tuple[Parameter, ...]
    services: tuple[Service, ...]
    processors: tuple[Processor, ...]
    connections: tuple[Connection, ...]
    funnels: tuple[Funnel, ...] = ()
    labels: tuple[Label, ...] = ()
    positions: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def processor(self, key: str) -> Processor:
        """Raises KeyError when the flow has no processor with that key."""
        for processor in self.processors:
            if processor.key == key:
                return processor
        raise KeyError(f"{self.name}: no processor {key!r}")


def _property_descriptor(name: str, sensitive: bool, service: bool, dynamic: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "displayName": name,
        "identifiesControllerService": service,
        "sensitive": sensitive,
        "dynamic": dynamic,
    }


def _properties(
    flow: Flow,
    values: Mapping[str, str | ServiceRef],
    sensitive: frozenset[str],
    dynamic: frozenset[str] = frozenset(),
) -> tuple[dict[str, str], dict[str, Any]]:
    props: dict[str, str] = {}
    descriptors: dict[str, Any] = {}
    for name in sorted(values):
        value = values[name]
        service = isinstance(value, ServiceRef)
        props[name] = component_id(flow.name, "service", value.key) if isinstance(value, ServiceRef) else value
        descriptors[name] = _property_descriptor(name, name in sensitive, service, name in dynamic)
    return props, descriptors


def _position(flow: Flow, key: str) -> dict[str, float]:
    x, y = flow.positions.get(key, (0.0, 0.0))
    return {"x": float(x), "y": float(y)}


def export(flow: Flow) -> dict[str, Any]:
    """The flow-definition document NiFi imports (``VersionedExternalFlow``)."""
    group_id = component_id(flow.name, "group", "root")
    kinds = {p.key: ("PROCESSOR", p.name) for p in flow.processors}
    kinds.update({f.key: ("FUNNEL", "Funnel") for f in flow.funnels})

    def ids(kind: str, key: str) -> dict[str, str]:
        value = component_id(flow.name, kind, key)
        return {"identifier": value, "instanceIdentifier": value}

    def endpoint(key: str) -> dict[str, Any]:
        kind, name = kinds[key]
        return {
            "id": component_id(flow.name, kind.lower(), key),
            "type": kind,
            "groupId": group_id,
            "name": name,
            "comments": "",
            "instanceIdentifier": component_id(flow.name, kind.lower(), key),
        }

    processors = []
    for p in flow.processors:
        props, descriptors = _properties(flow, p.properties, p.sensitive_properties, p.dynamic_properties)
        retry = p.retry
        processors.append(
            {
                **ids("processor", p.key),
                "name": p.name,
                "comments": p.comments,
                "position": _position(flow, p.key),
                "type": p.type,
                "bundle": p.bundle.to_json(),
                "properties": props,
                "propertyDescriptors": descriptors,
                "style": {},
                "schedulingPeriod": p.scheduling_period,
                "schedulingStrategy": "TIMER_DRIVEN",
                "executionNode": "ALL",
                "penaltyDuration": p.penalty,
                "yieldDuration": p.yield_duration,
                "bulletinLevel": "WARN",
                "runDurationMillis": p.run_duration_ms,
                "concurrentlySchedulableTaskCount": p.concurrent_tasks,
                "autoTerminatedRelationships": sorted(p.auto_terminated),
                "scheduledState": "ENABLED",
                "retryCount": retry.count if retry else 10,
                "retriedRelationships": sorted(retry.relationships) if retry else [],
                "backoffMechanism": retry.backoff if retry else "PENALIZE_FLOWFILE",
                "maxBackoffPeriod": retry.max_backoff if retry else "10 mins",
                "componentType": "PROCESSOR",
                "groupIdentifier": group_id,
            }
        )
    services = []
    for s in flow.services:
        props, descriptors = _properties(flow, s.properties, s.sensitive_properties)
        services.append(
            {
                **ids("service", s.key),
                "name": s.name,
                "comments": s.comments,
                "type": s.type,
                "bundle": s.bundle.to_json(),
                "properties": props,
                "propertyDescriptors": descriptors,
                "controllerServiceApis": [{"type": api, "bundle": b.to_json()} for api, b in s.service_apis],
                "scheduledState": "DISABLED",
                "bulletinLevel": "WARN",
                "componentType": "CONTROLLER_SERVICE",
                "groupIdentifier": group_id,
            }
        )
    connections = []
    for c in flow.connections:
        key = f"{c.source}/{'+'.join(c.relationships) or '-'}/{c.destination}"
        connections.append(
            {
                **ids("connection", key),
                "name": c.name,
                "source": endpoint(c.source),
                "destination": endpoint(c.destination),
                "labelIndex": 1,
                "zIndex": 0,
                "selectedRelationships": list(c.relationships),
                "backPressureObjectThreshold": c.back_pressure_objects,
                "backPressureDataSizeThreshold": c.back_pressure_size,
                "flowFileExpiration": c.expiration,
                "prioritizers": [],
                "bends": [],
                "loadBalanceStrategy": "DO_NOT_LOAD_BALANCE",
                "partitioningAttribute": "",
                "loadBalanceCompression": "DO_NOT_COMPRESS",
                "componentType": "CONNECTION",
                "groupIdentifier": group_id,
            }
        )
    funnels = [
        {
            **ids("funnel", f.key),
            "position": _position(flow, f.key),
            "componentType": "FUNNEL",
            "groupIdentifier": group_id,
        }
        for f in flow.funnels
    ]
    labels = [
        {
            **ids("label", label.key),
            "label": label.text,
            "position": _position(flow, label.key),
            "width": label.width,
            "height": label.height,
            "zIndex": 0,
            "style": {"font-size": "14px"},
            "componentType": "LABEL",
            "groupIdentifier": group_id,
        }
        for label in flow.labels
    ]
    parameters = [
        {
            "name": p.name,
            "description": p.description,
            "sensitive": p.sensitive,
            "provided": False,
            "value": None if p.sensitive else p.value,
        }
        for p in sorted(flow.parameters, key=lambda p: p.name)
    ]
    return {
        "flowEncodingVersion": FLOW_ENCODING_VERSION,
        "flowContents": {
            "identifier": group_id,
            "instanceIdentifier": group_id,
            "name": flow.name,
            "comments": flow.comments,
            "position": {"x": 0.0, "y": 0.0},
            "processGroups": [],
            "remoteProcessGroups": [],
            "processors": processors,
            "inputPorts": [],
            "outputPorts": [],
            "connections": connections,
            "labels": labels,
            "funnels": funnels,
            "controllerServices": services,
            "parameterContextName": flow.parameter_context,
            "defaultFlowFileExpiration": "0 sec",
            "defaultBackPressureObjectThreshold": 10000,
            "defaultBackPressureDataSizeThreshold": "1 GB",
            "scheduledState": "ENABLED",
            "executionEngine": "INHERITED",
            "maxConcurrentTasks": 1,
            "statelessFlowTimeout": "1 min",
            "flowFileConcurrency": "UNBOUNDED",
            "flowFileOutboundPolicy": "STREAM_WHEN_AVAILABLE",
            "componentType": "PROCESS_GROUP",
        },
        "externalControllerServices": {},
        "parameterContexts": {
            flow.parameter_context: {
                "name": flow.parameter_context,
                "parameters": parameters,
                "inheritedParameterContexts": [],
                "description": f"Parameters of the {flow.name} flow. Sensitive parameters are empty: fill them in.",
                "componentType": "PARAMETER_CONTEXT",
            }
        },
        "parameterProviders": {},
        "latest": False,
    }
