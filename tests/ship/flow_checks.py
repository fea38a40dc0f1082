"""What NiFi's import needs from a flow-definition document, as one function returning every problem found.

Kept independent of the generator (claimflow.flow.model): it reads the JSON as NiFi would, and takes the Python
processors' facts from their source by AST (claimflow.flow.pyprocessors, cross-checked in the tests against the
RUNTIME engineer's discovery scanner) and the Java processors' relationships from claimflow.flow.platform.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from claimflow.flow import platform as pf
from claimflow.flow.pyprocessors import ProcessorSpec

# Fields NiFi's import dereferences without a null check (VersionedComponentSynchronizer / flow mappers).
PROCESSOR_FIELDS = (
    "identifier",
    "name",
    "type",
    "bundle",
    "position",
    "properties",
    "propertyDescriptors",
    "schedulingPeriod",
    "schedulingStrategy",
    "executionNode",
    "penaltyDuration",
    "yieldDuration",
    "bulletinLevel",
    "runDurationMillis",
    "concurrentlySchedulableTaskCount",
    "autoTerminatedRelationships",
    "scheduledState",
    "retryCount",
    "retriedRelationships",
    "backoffMechanism",
    "maxBackoffPeriod",
    "componentType",
    "groupIdentifier",
)
CONNECTION_FIELDS = (
    "identifier",
    "source",
    "destination",
    "selectedRelationships",
    "backPressureObjectThreshold",
    "backPressureDataSizeThreshold",
    "flowFileExpiration",
    "prioritizers",
    "bends",
    "loadBalanceStrategy",
    "loadBalanceCompression",
    "labelIndex",
    "zIndex",
    "componentType",
    "groupIdentifier",
)
ENDPOINT_FIELDS = ("id", "type", "groupId", "name")
SERVICE_FIELDS = (
    "identifier",
    "name",
    "type",
    "bundle",
    "properties",
    "propertyDescriptors",
    "controllerServiceApis",
    "scheduledState",
    "bulletinLevel",
    "componentType",
    "groupIdentifier",
)
GROUP_FIELDS = (
    "identifier",
    "name",
    "position",
    "processGroups",
    "remoteProcessGroups",
    "processors",
    "inputPorts",
    "outputPorts",
    "connections",
    "labels",
    "funnels",
    "controllerServices",
    "parameterContextName",
    "flowFileConcurrency",
    "flowFileOutboundPolicy",
    "componentType",
)
# Property name of a processor -> the controller service API it must point at.
SERVICE_API_OF_PROPERTY = {
    "Record Reader": "org.apache.nifi.serialization.RecordReaderFactory",
    "Record Writer": "org.apache.nifi.serialization.RecordSetWriterFactory",
    "AWS Credentials Provider Service": pf.AWS_CREDENTIALS_SERVICE.service_apis[0][0],
    "Private Key Service": "org.apache.nifi.key.service.api.PrivateKeyService",
}
JAVA_PROCESSORS = {
    c.type: c
    for c in (pf.CONSUME_KINESIS_STREAM, pf.PUT_SNOWPIPE_STREAMING, pf.PARTITION_RECORD, pf.ROUTE_ON_ATTRIBUTE)
}
# Processors whose user-defined ("dynamic") properties are part of their configuration: PartitionRecord's record
# paths (each an attribute), RouteOnAttribute's expressions (each, with "Route to Property name", a relationship).
TAKES_DYNAMIC_PROPERTIES = {pf.PARTITION_RECORD.type, pf.ROUTE_ON_ATTRIBUTE.type}
# ConsumeKinesisStream's property names in NiFi 2.11.0 (apache/nifi rel/nifi-2.11.0, ConsumeKinesisStream.java
# and its AbstractAwsProcessor / RegionUtil descriptors), the ones a flow may set.
CONSUME_KINESIS_STREAM_PROPERTIES = frozenset(
    {
        "Amazon Kinesis Stream Name",
        "Application Name",
        "Initial Stream Position",
        "Stream Position Timestamp",
        "Timestamp Format",
        "Failover Timeout",
        "Graceful Shutdown Timeout",
        "Checkpoint Interval",
        "Retry Count",
        "Retry Wait",
        "DynamoDB Override",
        "Report Metrics to CloudWatch",
        "Record Reader",
        "Record Writer",
        "Output Strategy",
        "FlowFile Handling On Schema Difference",
        "AWS Credentials Provider Service",
        "Region",
        "Endpoint Override URL",
        "Communications Timeout",
        "SSL Context Service",
    }
)
# Property names (and the enumerated values the flows use) of the other components, checked against
# apache/nifi rel/nifi-2.11.0 sources and, for PutSnowpipeStreaming, Snowflake's Openflow processor reference.
COMPONENT_PROPERTIES = {
    pf.JSON_TREE_READER.type: {"Schema Access Strategy", "Schema Text", "Date Format", "Timestamp Format"},
    pf.JSON_RECORD_SET_WRITER.type: {
        "Schema Access Strategy",
        "Schema Text",
        "Schema Write Strategy",
        "Suppress Null Values",
        "Date Format",
        "Timestamp Format",
    },
    pf.AWS_CREDENTIALS_SERVICE.type: {
        "Use Default Credentials",
        "Access Key ID",
        "Secret Access Key",
        "Assume Role ARN",
        "Assume Role Session Name",
        "Assume Role Session Time",
        "Assume Role External ID",
        "Assume Role STS Region",
        "Assume Role STS Endpoint Override",
    },
    pf.PRIVATE_KEY_SERVICE.type: {"Key", "Key File", "Key Password"},
    pf.PUT_SNOWPIPE_STREAMING.type: {
        "Account",
        "User",
        "Role",
        "Database",
        "Schema",
        "Table",
        "Record Reader",
        "Private Key Service",
        "Authentication Strategy",
        "Delivery Guarantee",
    },
    pf.CONSUME_KINESIS_STREAM.type: CONSUME_KINESIS_STREAM_PROPERTIES,
    pf.PARTITION_RECORD.type: {"Record Reader", "Record Writer"},
    pf.ROUTE_ON_ATTRIBUTE.type: {"Routing Strategy"},
}
# Which of those properties NiFi itself declares sensitive (same sources). NiFi judges a parameter reference by its
# own descriptor, not by the one in the document, so a document marking another property sensitive would still
# fail on import when that property references a sensitive parameter.
SENSITIVE_COMPONENT_PROPERTIES = {
    pf.AWS_CREDENTIALS_SERVICE.type: {"Access Key ID", "Secret Access Key"},
    pf.PRIVATE_KEY_SERVICE.type: {"Key", "Key Password"},
}
ALLOWED_VALUES = {
    "Schema Access Strategy": {"infer-schema", "schema-text-property", "inherit-record-schema", "schema-name"},
    "Schema Write Strategy": {"no-schema", "schema-name", "full-schema-attribute"},
    "Suppress Null Values": {"never-suppress", "always-suppress", "suppress-missing"},
}
DEAD_END_RELATIONSHIPS = ("invalid", "failure")
_REFERENCE = re.compile(r"#\{([^}]*)\}")


def _missing(component: Mapping[str, Any], fields: tuple[str, ...], where: str) -> list[str]:
    return [f"{where}: missing {f}" for f in fields if component.get(f) is None]


def problems(document: Mapping[str, Any], python_specs: Mapping[str, ProcessorSpec]) -> list[str]:
    """Every reason NiFi would refuse the document, or import it broken (unconnected relationship, dangling
    service, unresolved parameter, a Python processor that does not match its code). Empty = importable."""
    found: list[str] = []
    if document.get("flowEncodingVersion") != "1.0":
        found.append("flowEncodingVersion must be 1.0")
    group = document.get("flowContents") or {}
    found += _missing(group, GROUP_FIELDS, "process group")
    group_id = group.get("identifier")
    processors = {p.get("identifier"): p for p in group.get("processors") or []}
    funnels = {f.get("identifier"): f for f in group.get("funnels") or []}
    services = {s.get("identifier"): s for s in group.get("controllerServices") or []}
    connections = group.get("connections") or []

    identifiers = [group_id, *processors, *funnels, *services, *(c.get("identifier") for c in connections)]
    identifiers += [label.get("identifier") for label in group.get("labels") or []]
    if len(set(identifiers)) != len(identifiers):
        found.append("component identifiers are not unique")
    for identifier in identifiers:
        try:
            uuid.UUID(str(identifier))
        except ValueError:
            found.append(f"identifier {identifier!r} is not a UUID")

    context_name = group.get("parameterContextName")
    context = (document.get("parameterContexts") or {}).get(context_name)
    parameters: dict[str, Mapping[str, Any]] = {}
    if context is None:
        found.append(f"parameter context {context_name!r} is not in parameterContexts")
    else:
        parameters = {p["name"]: p for p in context.get("parameters", [])}
        for parameter in parameters.values():
            if parameter.get("sensitive") and parameter.get("value") is not None:
                found.append(f"sensitive parameter {parameter['name']!r} carries a value")

    def check_properties(component: Mapping[str, Any], where: str) -> None:
        descriptors = component.get("propertyDescriptors") or {}
        known_names = COMPONENT_PROPERTIES.get(component.get("type", ""))
        for name, value in (component.get("properties") or {}).items():
            dynamic = bool((descriptors.get(name) or {}).get("dynamic"))
            if dynamic and component.get("type") not in TAKES_DYNAMIC_PROPERTIES:
                found.append(f"{where}: {name!r} is marked dynamic but {component.get('type')} takes none here")
            if known_names is not None and name not in known_names and not dynamic:
                found.append(f"{where}: {name!r} is not a property name of {component.get('type')}")
            if known_names is not None and name in known_names and dynamic:
                found.append(f"{where}: {name!r} is a property of {component.get('type')}, not a dynamic one")
            if name in ALLOWED_VALUES and known_names is not None and value not in ALLOWED_VALUES[name]:
                found.append(f"{where}.{name}: {value!r} is not an allowed value")
            descriptor = descriptors.get(name)
            if descriptor is None:
                found.append(f"{where}.{name}: no property descriptor")
                continue
            nifi_sensitive = SENSITIVE_COMPONENT_PROPERTIES.get(component.get("type", ""))
            if nifi_sensitive is not None and bool(descriptor.get("sensitive")) != (name in nifi_sensitive):
                found.append(f"{where}.{name}: sensitive flag differs from NiFi's descriptor")
            if descriptor.get("identifiesControllerService"):
                service = services.get(value)
                if service is None:
                    found.append(f"{where}.{name}: controller service {value} is not in the group")
                    continue
                api = SERVICE_API_OF_PROPERTY.get(name)
                apis = [a.get("type") for a in service.get("controllerServiceApis") or []]
                if api is not None and api not in apis:
                    found.append(f"{where}.{name}: {service.get('name')} does not implement {api}")
                continue
            for reference in _REFERENCE.findall(value or ""):
                parameter = parameters.get(reference)
                if parameter is None:
                    found.append(f"{where}.{name}: parameter #{{{reference}}} does not exist")
                elif bool(parameter.get("sensitive")) != bool(descriptor.get("sensitive")):
                    found.append(f"{where}.{name}: sensitivity differs from parameter {reference!r}")
            if descriptor.get("sensitive") and value and not _REFERENCE.fullmatch(value):
                found.append(f"{where}.{name}: a sensitive property holds a literal value")

    for service in services.values():
        where = f"service {service.get('name')}"
        found += _missing(service, SERVICE_FIELDS, where)
        if service.get("groupIdentifier") != group_id:
            found.append(f"{where}: groupIdentifier is not the process group")
        check_properties(service, where)

    outgoing: dict[str, list[Mapping[str, Any]]] = {}
    for connection in connections:
        where = f"connection {connection.get('name') or connection.get('identifier')}"
        found += _missing(connection, CONNECTION_FIELDS, where)
        if connection.get("groupIdentifier") != group_id:
            found.append(f"{where}: groupIdentifier is not the process group")
        for end in ("source", "destination"):
            endpoint = connection.get(end) or {}
            found += _missing(endpoint, ENDPOINT_FIELDS, f"{where}.{end}")
            target = processors.get(endpoint.get("id")) if endpoint.get("type") == "PROCESSOR" else None
            target = target or (funnels.get(endpoint.get("id")) if endpoint.get("type") == "FUNNEL" else None)
            if target is None:
                found.append(f"{where}.{end}: {endpoint.get('type')} {endpoint.get('id')} does not exist")
            elif endpoint.get("groupId") != group_id:
                found.append(f"{where}.{end}: groupId is not the process group")
        source = (connection.get("source") or {}).get("id")
        outgoing.setdefault(source, []).append(connection)
        if source in processors and not connection.get("selectedRelationships"):
            found.append(f"{where}: a processor connection selects no relationship")
        if connection.get("flowFileExpiration") not in ("0 sec", "0 secs", "0 mins"):
            found.append(f"{where}: FlowFiles expire (a lost claim)")

    for pid, processor in processors.items():
        where = f"processor {processor.get('name')}"
        found += _missing(processor, PROCESSOR_FIELDS, where)
        if processor.get("groupIdentifier") != group_id:
            found.append(f"{where}: groupIdentifier is not the process group")
        position = processor.get("position") or {}
        if not isinstance(position.get("x"), float | int) or not isinstance(position.get("y"), float | int):
            found.append(f"{where}: position needs x and y")
        check_properties(processor, where)
        bundle = processor.get("bundle") or {}
        relationships: tuple[str, ...]
        if (bundle.get("group"), bundle.get("artifact")) == ("org.apache.nifi", "python-extensions"):
            spec = python_specs.get(processor.get("type"))
            if spec is None:
                found.append(f"{where}: Python processor type {processor.get('type')} is not in claimflow_processors")
                continue
            if bundle.get("version") != spec.version:
                found.append(f"{where}: bundle version {bundle.get('version')} != ProcessorDetails.version")
            set_names = set(processor.get("properties") or {})
            unknown = set_names - set(spec.property_names)
            if unknown:
                found.append(f"{where}: properties {sorted(unknown)} do not exist in {spec.class_name}")
            for prop in spec.properties:
                if prop.required and prop.default is None and prop.default_readable and prop.name not in set_names:
                    found.append(f"{where}: required property {prop.name!r} is not set")
                descriptor = (processor.get("propertyDescriptors") or {}).get(prop.name)
                if descriptor is not None and bool(descriptor.get("sensitive")) != prop.sensitive:
                    found.append(f"{where}.{prop.name}: sensitive flag differs from the code")
            relationships = spec.relationships
        else:
            java = JAVA_PROCESSORS.get(processor.get("type"))
            if java is None:
                found.append(f"{where}: unknown Java processor type {processor.get('type')}")
                continue
            relationships = java.relationships
            if java is pf.ROUTE_ON_ATTRIBUTE:  # "Route to Property name": one relationship per dynamic property
                if (processor.get("properties") or {}).get("Routing Strategy") != pf.ROUTE_TO_PROPERTY_NAME:
                    found.append(f"{where}: Routing Strategy must be {pf.ROUTE_TO_PROPERTY_NAME!r}")
                dynamic = [n for n, d in (processor.get("propertyDescriptors") or {}).items() if d.get("dynamic")]
                relationships = (*sorted(dynamic), "unmatched")
            if java is pf.CONSUME_KINESIS_STREAM:
                unknown = set(processor.get("properties") or {}) - CONSUME_KINESIS_STREAM_PROPERTIES
                if unknown:
                    found.append(f"{where}: {sorted(unknown)} are not NiFi {pf.NIFI_VERSION} property names")
        connected = {r for c in outgoing.get(pid, []) for r in c.get("selectedRelationships") or []}
        auto = set(processor.get("autoTerminatedRelationships") or [])
        for relationship in relationships:
            if relationship not in connected and relationship not in auto:
                found.append(f"{where}: relationship {relationship!r} is neither connected nor auto-terminated")
            if relationship in DEAD_END_RELATIONSHIPS and relationship in auto:
                found.append(f"{where}: {relationship!r} is auto-terminated (silently dropped)")
        for relationship in (connected | auto) - set(relationships):
            found.append(f"{where}: relationship {relationship!r} does not exist on the processor")
        for relationship in processor.get("retriedRelationships") or []:
            if relationship not in relationships:
                found.append(f"{where}: retried relationship {relationship!r} does not exist")
    return found
