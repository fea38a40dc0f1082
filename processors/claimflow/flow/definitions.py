"""ClaimFlow's two flow definitions, described once in Python and exported as the JSON NiFi imports.

1. Openflow (``claimflow-openflow.json``): ConsumeKinesisStream -> ProcessClaimChange (the one fused Python
   processor, a FlowFileTransform: Openflow recommends few Python processors per runtime) -> PartitionRecord and
   RouteOnAttribute (Java: per-record routing by operation and rule, visible on the canvas) -> insert/modify/remove
   -> PutSnowpipeStreaming into the staging table, and every event also into the history table. The merge into
   the current-state table runs inside Snowflake (stream + task of sql/).
2. Apache NiFi 2.x (``claimflow-nifi.json``): ConsumeKinesisStream -> DecodeDynamoDBChange -> TransformClaimChange
   (a FlowFileTransform) -> PartitionRecord and RouteOnAttribute (as in 1.) -> insert/modify/remove ->
   MergeClaimsToSnowflake (Snowpark: staging + history + merge in one transaction),
   whose ``retry`` loops back with back-off.

Python processor types, versions, properties and relationships come from the processor sources (``pyprocessors``).
Routing is by relationship name, and an unknown relationship stops the export, so a processor change can never
leave a relationship silently unconnected: insert/modify/remove go on as rows, ``success`` goes to the next stage
(or ends the pipeline after the merge), ``invalid`` and ``failure`` go to the dead-letter queue, ``retry`` loops
back, ``original`` is auto-terminated (its content went on as the outputs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from claimflow import names, rows
from claimflow.flow import platform as pf
from claimflow.flow.model import (
    Connection,
    Flow,
    Funnel,
    Label,
    Parameter,
    Processor,
    Retry,
    Service,
    ServiceRef,
    parameter_reference,
)
from claimflow.flow.pyprocessors import RECORD_READER, RECORD_WRITER, ProcessorSpec, read_processors
from claimflow.record_routing import (
    INVALID,
    PARTITION_PATHS,
    ROUTED_RELATIONSHIPS,
    ROUTES,
    ROW_RELATIONSHIPS,
    UNMATCHED,
)
from claimflow.snowflake.spec import DEFAULT_TABLES

DEAD_LETTER_RELATIONSHIPS = ("invalid", "failure")
DEAD_LETTER = "dead-letter"
OPENFLOW_FILE = "claimflow-openflow.json"
NIFI_FILE = "claimflow-nifi.json"

# Java date/time patterns matching the claim row's JSON (rows.py): dates ISO, timestamps UTC with microseconds.
DATE_FORMAT = "yyyy-MM-dd"
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"


class FlowDescriptionError(ValueError):
    """The processors and the flow description disagree (names the processor and what is missing)."""


# --- parameters ---------------------------------------------------------------------------------------------
AWS_REGION = "AWS Region"
KINESIS_STREAM = "Kinesis Stream Name"
KINESIS_APPLICATION = "Kinesis Application Name"
KINESIS_POSITION = "Kinesis Initial Stream Position"
AWS_ACCESS_KEY = "AWS Access Key ID"
AWS_SECRET_KEY = "AWS Secret Access Key"
AWS_ASSUME_ROLE_ARN = "AWS Assume Role ARN"
AWS_ASSUME_ROLE_SESSION = "AWS Assume Role Session Name"
AWS_ASSUME_ROLE_EXTERNAL_ID = "AWS Assume Role External ID"
SF_ACCOUNT = "Snowflake Account"
SF_USER = "Snowflake User"
SF_ROLE = "Snowflake Role"
SF_DATABASE = "Snowflake Database"
SF_SCHEMA = "Snowflake Schema"
SF_WAREHOUSE = "Snowflake Warehouse"
SF_PRIVATE_KEY = "Snowflake Private Key"
SF_PRIVATE_KEY_PASSWORD = "Snowflake Private Key Password"
SF_AUTH_STRATEGY = "Snowflake Authentication Strategy"
SF_STAGING_TABLE = "Snowflake Staging Table"
SF_HISTORY_TABLE = "Snowflake History Table"
SF_DESTINATION_TABLE = "Snowflake Current-State Table"

COMMON_PARAMETERS = (
    Parameter(AWS_REGION, "AWS region of the DynamoDB table and its Kinesis stream.", value="us-east-1"),
    Parameter(
        KINESIS_STREAM, "Kinesis data stream receiving the InsuranceClaims changes.", value=names.KINESIS_STREAM
    ),
    Parameter(
        KINESIS_APPLICATION,
        "Kinesis Client Library application name: the name of its DynamoDB lease tables (infra/ grants this name).",
        value="claimflow-nifi-consumer",
    ),
    Parameter(
        KINESIS_POSITION,
        "Where a new application starts reading: TRIM_HORIZON (oldest retained change, loses nothing) or LATEST.",
        value="TRIM_HORIZON",
    ),
    Parameter(AWS_ACCESS_KEY, "AWS access key id; leave empty to use the default credentials chain (IAM role).", True),
    Parameter(AWS_SECRET_KEY, "AWS secret access key; leave empty with the access key id.", sensitive=True),
    # The consumer role of infra/claimflow-source.yaml: the only principal its stream, lease tables and key allow.
    Parameter(
        AWS_ASSUME_ROLE_ARN,
        "IAM role the consumer assumes: stack output ConsumerRoleArn of infra/claimflow-source.yaml. Empty: the "
        "AWS Access Key ID pair (or, empty too, the default credentials chain) is used without assuming a role.",
    ),
    Parameter(
        AWS_ASSUME_ROLE_SESSION,
        "Session name of the assumed role (shows in CloudTrail); used only when AWS Assume Role ARN is set.",
        value="claimflow-consumer",
    ),
    # Not sensitive: NiFi's Assume Role External ID property is not, and it may reference only plain parameters.
    Parameter(
        AWS_ASSUME_ROLE_EXTERNAL_ID,
        "sts:ExternalId the role's trust policy requires: the stack parameter ConsumerExternalId. Empty when the "
        "stack was deployed without one.",
    ),
    Parameter(SF_ACCOUNT, "Snowflake account identifier: <organization>-<account>. Required."),
    # Defaults: the objects sql/00_setup.sql creates (service user with key-pair auth, its default role).
    Parameter(SF_USER, "Snowflake user of the key pair (sql/00_setup.sql: CLAIMFLOW_SVC).", value="CLAIMFLOW_SVC"),
    Parameter(SF_ROLE, "Snowflake role the user assumes.", value="CLAIMFLOW_MERGER"),
    Parameter(SF_DATABASE, "Snowflake database holding the ClaimFlow tables.", value="CLAIMFLOW_DB"),
    Parameter(SF_SCHEMA, "Snowflake schema holding the ClaimFlow tables.", value="CDC"),
    Parameter(SF_WAREHOUSE, "Snowflake warehouse for the merge.", value="CLAIMFLOW_WH"),
    Parameter(SF_PRIVATE_KEY, "PEM (PKCS#8) private key of the Snowflake user.", sensitive=True),
    Parameter(
        SF_STAGING_TABLE, "Staging table (sql/01_tables.sql); the merge consumes it.", value=DEFAULT_TABLES.staging
    ),
    Parameter(SF_HISTORY_TABLE, "Append-only history table: every change event.", value=DEFAULT_TABLES.history),
    Parameter(SF_PRIVATE_KEY_PASSWORD, "Password of an encrypted private key; empty when unencrypted.", True),
)


# --- controller services ----------------------------------------------------------------------------------
def claim_row_schema_text() -> str:
    """The typed record schema of a claim row (Avro JSON, ``rows.avro_schema()``): decimals, dates and timestamps
    as logical types, which the reader in front of Snowpipe Streaming parses from the row's JSON strings."""
    return json.dumps(rows.avro_schema(), sort_keys=True, separators=(",", ":"))


def _as_wire_type(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return [_as_wire_type(t) for t in avro_type]
    if isinstance(avro_type, dict):
        if "logicalType" in avro_type:
            return "string"
        if avro_type.get("type") == "array":
            return {**avro_type, "items": _as_wire_type(avro_type["items"])}
        if avro_type.get("type") == "record":
            return {**avro_type, "fields": [{**f, "type": _as_wire_type(f["type"])} for f in avro_type["fields"]]}
    return avro_type


# Fields of a dead-letter record from TransformClaimChange / ProcessClaimChange's ``invalid`` relationship.
DEAD_LETTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("index", "long"),
    ("eventId", "string"),
    ("error", "string"),
    ("rule", "string"),
    ("record", "string"),
)


def claim_row_wire_schema() -> dict[str, Any]:
    """The schema of the Python processors' record output, for their Record Writer.

    A claim row exactly as its JSON travels between processors (rows.py): ``rows.avro_schema()`` with every logical
    type (decimal, date, timestamp) as the string it is on the wire, so rows pass through unchanged (an Avro
    decimal would be written as a JSON number, which orjson reads back as a float). One writer serves every
    relationship, so the schema also holds the dead-letter record's fields; every field is nullable and the
    writer suppresses *missing* fields, so a row is written with its columns only and a dead-letter record
    with its four fields only, while a row's explicit nulls stay.

    Raises:
        ValueError: a dead-letter field collides with a claim-row column of another type.
    """
    schema = rows.avro_schema()
    fields: list[dict[str, Any]] = []
    for column in schema["fields"]:
        wire = _as_wire_type(column["type"])
        options = wire if isinstance(wire, list) else ["null", wire]
        fields.append({"name": column["name"], "type": options, "default": None})
    by_name = {f["name"]: f for f in fields}
    for name, avro_type in DEAD_LETTER_FIELDS:
        if name in by_name:
            if avro_type not in by_name[name]["type"]:
                raise ValueError(f"dead-letter field {name} collides with a claim-row column")
            continue
        fields.append({"name": name, "type": ["null", avro_type], "default": None})
    return {**schema, "name": "ClaimRowOrDeadLetter", "fields": fields}


def claim_row_wire_schema_text() -> str:
    return json.dumps(claim_row_wire_schema(), sort_keys=True, separators=(",", ":"))


AWS_CREDENTIALS = Service(
    key="aws-credentials",
    name="AWS Credentials",
    type=pf.AWS_CREDENTIALS_SERVICE.type,
    bundle=pf.AWS_CREDENTIALS_SERVICE.bundle,
    service_apis=pf.AWS_CREDENTIALS_SERVICE.service_apis,
    properties={
        pf.AWS_ACCESS_KEY_ID: parameter_reference(AWS_ACCESS_KEY),
        pf.AWS_SECRET_ACCESS_KEY: parameter_reference(AWS_SECRET_KEY),
        pf.ASSUME_ROLE_ARN: parameter_reference(AWS_ASSUME_ROLE_ARN),
        pf.ASSUME_ROLE_SESSION_NAME: parameter_reference(AWS_ASSUME_ROLE_SESSION),
        pf.ASSUME_ROLE_EXTERNAL_ID: parameter_reference(AWS_ASSUME_ROLE_EXTERNAL_ID),
        # STS in the stream's region (NiFi would otherwise call us-west-2).
        pf.ASSUME_ROLE_STS_REGION: parameter_reference(AWS_REGION),
    },
    sensitive_properties=pf.AWS_CREDENTIALS_SENSITIVE,
    comments="Empty keys: NiFi's implicit default credentials chain (instance profile / IRSA / environment). "
    "With AWS Assume Role ARN set, those credentials assume the consumer role of infra/claimflow-source.yaml; "
    "empty, the assume-role properties are ignored.",
)
ROW_WRITER = Service(
    key="row-writer",
    name="Claim Row Writer",
    type=pf.JSON_RECORD_SET_WRITER.type,
    bundle=pf.JSON_RECORD_SET_WRITER.bundle,
    service_apis=pf.JSON_RECORD_SET_WRITER.service_apis,
    properties={
        pf.SCHEMA_ACCESS_STRATEGY: "schema-text-property",
        pf.SCHEMA_TEXT: claim_row_wire_schema_text(),
        pf.SCHEMA_WRITE_STRATEGY: "no-schema",
        "Suppress Null Values": "suppress-missing",
    },
    comments="Explicit schema: the claim row (rows.avro_schema, logical types as their JSON strings) plus the "
    "dead-letter fields, missing fields suppressed. Every column keeps its type and every decimal its exact "
    "digits whatever the first record of a batch holds, and invalid records keep their own shape.",
)
ROW_READER = Service(
    key="row-reader",
    name="Claim Row Reader",
    type=pf.JSON_TREE_READER.type,
    bundle=pf.JSON_TREE_READER.bundle,
    service_apis=pf.JSON_TREE_READER.service_apis,
    properties={
        pf.SCHEMA_ACCESS_STRATEGY: "schema-text-property",
        pf.SCHEMA_TEXT: claim_row_schema_text(),
        "Date Format": DATE_FORMAT,
        "Timestamp Format": TIMESTAMP_FORMAT,
    },
    comments="Reads claim rows with their explicit schema for Snowpipe Streaming (NUMBER, DATE, TIMESTAMP typed).",
)
ROUTED_ROW_READER = Service(
    key="routed-row-reader",
    name="Routed Row Reader",
    type=pf.JSON_TREE_READER.type,
    bundle=pf.JSON_TREE_READER.bundle,
    service_apis=pf.JSON_TREE_READER.service_apis,
    properties={pf.SCHEMA_ACCESS_STRATEGY: "schema-text-property", pf.SCHEMA_TEXT: claim_row_wire_schema_text()},
    comments="Reads ProcessClaimChange's lines (claim rows and dead letters) for PartitionRecord with the same "
    "explicit schema the Claim Row Writer writes, so no value changes type on the way through.",
)
PRIVATE_KEY = Service(
    key="snowflake-private-key",
    name="Snowflake Private Key",
    type=pf.PRIVATE_KEY_SERVICE.type,
    bundle=pf.PRIVATE_KEY_SERVICE.bundle,
    service_apis=pf.PRIVATE_KEY_SERVICE.service_apis,
    properties={
        "Key": parameter_reference(SF_PRIVATE_KEY),
        "Key Password": parameter_reference(SF_PRIVATE_KEY_PASSWORD),
    },
    sensitive_properties=frozenset({"Key", "Key Password"}),
)


# --- processors -------------------------------------------------------------------------------------------
def consume_kinesis() -> Processor:
    return Processor(
        key="consume-kinesis",
        name="Consume DynamoDB changes from Kinesis",
        type=pf.CONSUME_KINESIS_STREAM.type,
        bundle=pf.CONSUME_KINESIS_STREAM.bundle,
        relationships=pf.CONSUME_KINESIS_STREAM.relationships,
        properties={
            pf.KINESIS_STREAM_NAME: parameter_reference(KINESIS_STREAM),
            pf.KINESIS_APPLICATION_NAME: parameter_reference(KINESIS_APPLICATION),
            pf.KINESIS_REGION: parameter_reference(AWS_REGION),
            pf.KINESIS_INITIAL_POSITION: parameter_reference(KINESIS_POSITION),
            pf.KINESIS_CREDENTIALS: ServiceRef(AWS_CREDENTIALS.key),
        },
        comments="No Record Reader/Writer on purpose: one FlowFile per Kinesis record, content = the DynamoDB change "
        "JSON, its shard and sequence number in the aws.kinesis.* attributes (the merge orders by them; record "
        "mode would keep only one position per FlowFile). Checkpoints after the FlowFiles are committed.",
    )


def partition_rows(upstream: str) -> Processor:
    return Processor(
        key="partition-rows",
        name="Partition by operation and rule",
        type=pf.PARTITION_RECORD.type,
        bundle=pf.PARTITION_RECORD.bundle,
        relationships=pf.PARTITION_RECORD.relationships,
        properties={
            "Record Reader": ServiceRef(ROUTED_ROW_READER.key),
            "Record Writer": ServiceRef(ROW_WRITER.key),
            **PARTITION_PATHS,
        },
        auto_terminated={"original": "its records went on as the partitions"},
        dynamic_properties=frozenset(PARTITION_PATHS),
        comments=f"Splits {upstream}'s output into one FlowFile per operation (cdc.operation = eventName) and per "
        "broken rule (cdc.error = rule); dead letters have no eventName and rows no rule.",
    )


def route_rows() -> Processor:
    return Processor(
        key="route-rows",
        name="Route by operation",
        type=pf.ROUTE_ON_ATTRIBUTE.type,
        bundle=pf.ROUTE_ON_ATTRIBUTE.bundle,
        relationships=ROUTED_RELATIONSHIPS,
        properties={"Routing Strategy": pf.ROUTE_TO_PROPERTY_NAME, **ROUTES},
        dynamic_properties=frozenset(ROUTES),
        comments="insert / modify / remove by cdc.operation, invalid when cdc.error is set. 'unmatched' cannot "
        "happen (every line is a row or a dead letter) and goes to the dead letter if it ever does.",
    )


SNOWFLAKE_MANAGED = "SNOWFLAKE_MANAGED"
KEY_PAIR = "KEY_PAIR"
PUT_SNOWPIPE_COMMENT = (
    "UNVERIFIED type: the class name and bundle of PutSnowpipeStreaming are not confirmed by any public source found "
    "(public Openflow scripts show com.snowflake.openflow.runtime.processors.snowpipe.streaming.PutSnowpipeStreaming2 "
    "in runtime-snowpipe-streaming-2-processors-nar, with other properties). Replace the processor with the one your "
    "runtime lists if the import reports it as missing. Authentication Strategy: SNOWFLAKE_MANAGED on SPCS, KEY_PAIR "
    "on BYOC."
)


def put_snowpipe(key: str, name: str, table_parameter: str) -> Processor:
    return Processor(
        key=key,
        name=name,
        type=pf.PUT_SNOWPIPE_STREAMING.type,
        bundle=pf.PUT_SNOWPIPE_STREAMING.bundle,
        relationships=pf.PUT_SNOWPIPE_STREAMING.relationships,
        properties={
            "Account": parameter_reference(SF_ACCOUNT),
            "User": parameter_reference(SF_USER),
            "Role": parameter_reference(SF_ROLE),
            "Database": parameter_reference(SF_DATABASE),
            "Schema": parameter_reference(SF_SCHEMA),
            "Table": parameter_reference(table_parameter),
            "Authentication Strategy": parameter_reference(SF_AUTH_STRATEGY),
            "Private Key Service": ServiceRef(PRIVATE_KEY.key),
            "Record Reader": ServiceRef(ROW_READER.key),
        },
        auto_terminated={"success": "rows are in Snowflake: the end of this path"},
        # Transient Snowflake errors are retried with back-off; what still fails is parked in the dead letter.
        retry=Retry(relationships=("failure",), count=5),
        comments=PUT_SNOWPIPE_COMMENT,
    )


@dataclass(frozen=True)
class PythonStage:
    """A Python processor in a flow: which class, its flow key, and the values of its own (non-service) properties."""

    key: str
    class_name: str
    name: str
    record_reader: Service | None = None
    record_writer: Service | None = None


# Properties of the Python processors that share a flow parameter with the Java side, by property name.
SHARED_PARAMETERS: Mapping[str, str] = {
    "Snowflake Account": SF_ACCOUNT,
    "Account": SF_ACCOUNT,
    "Snowflake User": SF_USER,
    "User": SF_USER,
    "Snowflake Role": SF_ROLE,
    "Role": SF_ROLE,
    "Snowflake Database": SF_DATABASE,
    "Database": SF_DATABASE,
    "Snowflake Schema": SF_SCHEMA,
    "Schema": SF_SCHEMA,
    "Snowflake Warehouse": SF_WAREHOUSE,
    "Warehouse": SF_WAREHOUSE,
    "Private Key": SF_PRIVATE_KEY,
    "Snowflake Private Key": SF_PRIVATE_KEY,
    "Private Key Password": SF_PRIVATE_KEY_PASSWORD,
    "Snowflake Private Key Password": SF_PRIVATE_KEY_PASSWORD,
    "Private Key Passphrase": SF_PRIVATE_KEY_PASSWORD,
    "Staging Table": SF_STAGING_TABLE,
    "History Table": SF_HISTORY_TABLE,
    "Destination Table": SF_DESTINATION_TABLE,
}


# Flow defaults that differ from the processors' own (secure by default): the shipped flows pseudonymise direct
# identifiers before anything reaches NiFi's queues, provenance or the dead letter; the HMAC key is a sensitive
# parameter without a value, so the claim processor stays invalid until an operator sets it (docs/security.md).
# `make demo` runs the shipped NiFi flow offline and supplies a demo-only key per run (claimflow.demo.pipeline).
SECURE_DEFAULTS: Mapping[str, str] = {"PHI Handling": "Pseudonymize"}
PROPERTY_DEFAULT_OVERRIDES: Mapping[str, str] = SECURE_DEFAULTS
REQUIRED_SENSITIVE = {
    "HMAC Key": "required: a random secret of at least 32 bytes with enough variety, e.g. `openssl rand -base64 48`; "
    "keep it outside Snowflake and NiFi's flow registry"
}


def python_processor(
    stage: PythonStage, spec: ProcessorSpec, parameters: dict[str, Parameter], services: Mapping[str, Service]
) -> Processor:
    """A Python processor whose every own property is bound to a flow parameter (defaults from the code), so an
    operator configures ClaimFlow in the parameter context. Adds the parameters it needs to ``parameters``.

    Raises:
        FlowDescriptionError: a needed record reader/writer or service is missing, or two processors give one
            shared parameter different defaults.
    """
    properties: dict[str, str | ServiceRef] = {}
    sensitive = set()
    for prop in spec.properties:
        if prop.name == RECORD_READER or prop.name == RECORD_WRITER:
            service = stage.record_reader if prop.name == RECORD_READER else stage.record_writer
            if service is None:
                raise FlowDescriptionError(f"{spec.class_name}: the flow gives it no {prop.name}")
            properties[prop.name] = ServiceRef(service.key)
            continue
        if prop.controller_service:
            raise FlowDescriptionError(f"{spec.class_name}.{prop.name}: unknown controller service property")
        parameter_name = SHARED_PARAMETERS.get(prop.name, f"ClaimFlow {prop.name}")
        if parameter_name not in parameters and not prop.default_readable:
            continue  # its default is computed in the code: leave the property unset so NiFi applies it
        default = PROPERTY_DEFAULT_OVERRIDES.get(prop.name, prop.default)
        if prop.allowable_values is not None and default is not None and default not in prop.allowable_values:
            raise FlowDescriptionError(f"{spec.class_name}.{prop.name}: flow default {default!r} is not allowed")
        required = " (required)" if prop.required else ""
        if prop.name in REQUIRED_SENSITIVE:
            required = f" ({REQUIRED_SENSITIVE[prop.name]})"
        wanted = Parameter(
            parameter_name,
            f"{spec.class_name}: {prop.display_name or prop.name}{required}",
            sensitive=prop.sensitive,
            # No default: a parameter without a value, so the property stays unset until someone fills it in.
            value=None if prop.sensitive else default,
        )
        known = parameters.setdefault(parameter_name, wanted)
        # NiFi lets a sensitive property reference only sensitive parameters, and a plain one only plain ones.
        if known.sensitive != wanted.sensitive:
            raise FlowDescriptionError(
                f"{spec.class_name}.{prop.name}: sensitive={prop.sensitive} but parameter {parameter_name!r} is not"
            )
        if parameter_name not in SHARED_PARAMETERS.values() and known.value != wanted.value:
            raise FlowDescriptionError(
                f"{spec.class_name}.{prop.name}: parameter {parameter_name!r} has another default in another processor"
            )
        properties[prop.name] = parameter_reference(parameter_name)
        if prop.sensitive:
            sensitive.add(prop.name)
    auto_terminated: dict[str, str] = {}
    for relationship in spec.relationships:
        if relationship == "original":
            auto_terminated[relationship] = "the input went on as this processor's outputs"
    return Processor(
        key=stage.key,
        name=stage.name,
        type=spec.class_name,
        bundle=pf.python_bundle(spec.version),
        relationships=spec.relationships,
        properties=properties,
        auto_terminated=auto_terminated,
        sensitive_properties=frozenset(sensitive),
        python=True,
        comments=f"ClaimFlow {spec.class_name} {spec.version} ({spec.interface})",
    )


def _dead_letter_connections(processor: Processor, handled: set[str]) -> list[Connection]:
    relationships = tuple(r for r in processor.relationships if r in DEAD_LETTER_RELATIONSHIPS and r not in handled)
    handled.update(relationships)
    if not relationships:
        return []
    return [
        Connection(
            processor.key,
            relationships,
            DEAD_LETTER,
            name=f"dead letter: {processor.name} {'/'.join(relationships)}",
            back_pressure_objects=100000,
            back_pressure_size="10 GB",
        )
    ]


def _check_all_routed(processor: Processor, handled: set[str]) -> None:
    unrouted = [r for r in processor.relationships if r not in handled and r not in processor.auto_terminated]
    if unrouted:
        raise FlowDescriptionError(f"{processor.name}: the flow description does not route {unrouted}")


DEAD_LETTER_LABEL = (
    "Dead letter: FlowFiles that failed or hold invalid records wait in the queues into this funnel (never "
    "auto-terminated, never expiring). Attributes name the record index, eventId and reason. Inspect with "
    "List Queue, fix the cause, then drag the queue's destination back to the processor to replay."
)


def _claim_stage_routing(claims: Processor, rows_to: tuple[str, ...]) -> tuple[list[Processor], list[Connection]]:
    """PartitionRecord and RouteOnAttribute after a claim processor, and their connections: its ``success`` (every
    record's row or dead letter) split per operation and rule, rows to each of ``rows_to``, dead letters (and
    ``unmatched``, which no line reaches) and failures to the dead letter.

    Raises:
        FlowDescriptionError: the claim processor does not have exactly success, original and failure.
    """
    if set(claims.relationships) != {"success", "original", "failure"}:
        raise FlowDescriptionError(f"{claims.type} has {claims.relationships}, expected success (routed by "
                                   "PartitionRecord), original and failure")
    partition = partition_rows(claims.name)
    route = route_rows()
    connections = [
        Connection(claims.key, ("success",), partition.key, name="claim rows and dead letters"),
        Connection(partition.key, ("success",), route.key, name="one FlowFile per operation or rule"),
    ]
    connections.extend(_routed_to_dead_letter(claims, {"success"}))
    connections.extend(_routed_to_dead_letter(partition, {"success"}))
    for destination in rows_to:
        name = "claim rows" if len(rows_to) == 1 else f"claim rows to {destination}"
        connections.append(Connection(route.key, ROW_RELATIONSHIPS, destination, name=name))
    connections.append(Connection(route.key, (INVALID, UNMATCHED), DEAD_LETTER, name="dead letter: invalid "
                                  "records (one FlowFile per rule) / unmatched", back_pressure_objects=100000,
                                  back_pressure_size="10 GB"))
    _check_all_routed(route, set(ROUTED_RELATIONSHIPS))
    return [partition, route], connections


def _python_specs(processors: Mapping[str, ProcessorSpec] | None) -> Mapping[str, ProcessorSpec]:
    return read_processors() if processors is None else processors


def _spec(specs: Mapping[str, ProcessorSpec], class_name: str) -> ProcessorSpec:
    try:
        return specs[class_name]
    except KeyError:
        raise FlowDescriptionError(f"processor {class_name} not found in claimflow_processors") from None


def _python_stage(
    key: str,
    class_name: str,
    name: str,
    specs: Mapping[str, ProcessorSpec],
    parameters: dict[str, Parameter],
    services: tuple[Service, ...],
) -> Processor:
    """``python_processor`` for the class ``class_name`` of claimflow_processors, with the flow's own services."""
    return python_processor(
        PythonStage(key, class_name, name), _spec(specs, class_name), parameters, {s.key: s for s in services}
    )


def _routed_to_dead_letter(processor: Processor, handled: set[str]) -> list[Connection]:
    """The dead-letter connections of ``processor`` besides the ``handled`` relationships, once every relationship
    it has is known to be routed.

    Raises:
        FlowDescriptionError: a relationship is neither handled, a dead letter, nor auto-terminated.
    """
    connections = _dead_letter_connections(processor, handled)
    _check_all_routed(processor, handled)
    return connections


def _from_kinesis(first: Processor) -> tuple[Processor, Connection]:
    """Both flows start the same: ConsumeKinesisStream, every change record to the ``first`` Python stage."""
    consume = consume_kinesis()
    _check_all_routed(consume, {"success"})
    return consume, Connection(consume.key, ("success",), first.key, name="DynamoDB change records")


def _stacked(*processors: Processor) -> dict[str, tuple[float, float]]:
    """Canvas positions one below the other, in pipeline order."""
    return {processor.key: (0.0, 250.0 * row) for row, processor in enumerate(processors)}


def _claim_flow(
    *,
    file_name: str,
    name: str,
    comments: str,
    parameter_context: str,
    parameters: dict[str, Parameter],
    services: tuple[Service, ...],
    processors: tuple[Processor, ...],
    connections: list[Connection],
    positions: Mapping[str, tuple[float, float]],
    dead_letter_at: tuple[float, float],
) -> Flow:
    """A ClaimFlow flow: its stages and the one dead-letter funnel they share, labelled just above and right of it."""
    x, y = dead_letter_at
    return Flow(
        file_name=file_name,
        name=name,
        comments=comments,
        parameter_context=parameter_context,
        parameters=tuple(parameters.values()),
        services=services,
        processors=processors,
        connections=tuple(connections),
        funnels=(Funnel(DEAD_LETTER),),
        labels=(Label("dead-letter-label", DEAD_LETTER_LABEL),),
        positions={**positions, DEAD_LETTER: (x, y), "dead-letter-label": (x + 120.0, y - 75.0)},
    )


def openflow_flow(processors: Mapping[str, ProcessorSpec] | None = None) -> Flow:
    """The Openflow flow: one fused Python processor, Snowpipe Streaming into staging and history.

    Raises:
        FlowDescriptionError: the processor code and this description disagree.
    """
    specs = _python_specs(processors)
    parameters = {p.name: p for p in COMMON_PARAMETERS}
    parameters[SF_AUTH_STRATEGY] = Parameter(
        SF_AUTH_STRATEGY,
        "PutSnowpipeStreaming Authentication Strategy: SNOWFLAKE_MANAGED (default) for an Openflow runtime on "
        "Snowpark Container Services, which authenticates as the runtime's Snowflake-managed identity (grant its "
        "role CLAIMFLOW_LOADER); KEY_PAIR for BYOC deployments (then set the Snowflake private key parameters).",
        value=SNOWFLAKE_MANAGED,
    )
    services = (AWS_CREDENTIALS, ROUTED_ROW_READER, ROW_WRITER, ROW_READER, PRIVATE_KEY)
    process = _python_stage("process", "ProcessClaimChange", "Process claim change", specs, parameters, services)
    consume, from_kinesis = _from_kinesis(process)
    staging = put_snowpipe("put-staging", "Snowpipe Streaming: staging", SF_STAGING_TABLE)
    history = put_snowpipe("put-history", "Snowpipe Streaming: history", SF_HISTORY_TABLE)
    (partition, route), routing = _claim_stage_routing(process, (staging.key, history.key))
    connections = [from_kinesis, *routing]
    for put in (staging, history):
        connections.extend(_routed_to_dead_letter(put, {"success"}))
    return _claim_flow(
        file_name=OPENFLOW_FILE,
        name="ClaimFlow (Openflow)",
        comments="DynamoDB InsuranceClaims -> Kinesis -> ProcessClaimChange -> PartitionRecord -> RouteOnAttribute "
        "-> Snowpipe Streaming (staging + history). The order-proof merge into the current-state table runs in "
        "Snowflake (stream + task, sql/).",
        parameter_context="ClaimFlow Openflow",
        parameters=parameters,
        services=services,
        processors=(consume, process, partition, route, staging, history),
        connections=connections,
        # The two Snowpipe Streaming puts side by side under the routing.
        positions={
            **_stacked(consume, process, partition, route),
            staging.key: (-450.0, 1050.0),
            history.key: (450.0, 1050.0),
        },
        dead_letter_at=(700.0, 625.0),
    )


def nifi_flow(processors: Mapping[str, ProcessorSpec] | None = None) -> Flow:
    """The Apache NiFi 2.x flow: decode, transform, and the Snowpark merge processor.

    Raises:
        FlowDescriptionError: the processor code and this description disagree.
    """
    specs = _python_specs(processors)
    parameters = {p.name: p for p in COMMON_PARAMETERS}
    parameters[SF_DESTINATION_TABLE] = Parameter(
        SF_DESTINATION_TABLE, "Current-state table the merge keeps right.", value=DEFAULT_TABLES.destination
    )
    services = (AWS_CREDENTIALS, ROUTED_ROW_READER, ROW_WRITER)
    decode = _python_stage("decode", "DecodeDynamoDBChange", "Decode DynamoDB change", specs, parameters, services)
    transform = _python_stage(
        "transform", "TransformClaimChange", "Transform claim change", specs, parameters, services
    )
    merge_base = _python_stage(
        "merge", "MergeClaimsToSnowflake", "Merge claims into Snowflake", specs, parameters, services
    )
    merge = replace(
        merge_base,
        auto_terminated={**merge_base.auto_terminated, "success": "rows are merged in Snowflake: the end"},
        retry=Retry(relationships=("retry",), count=5) if "retry" in merge_base.relationships else None,
    )
    consume, from_kinesis = _from_kinesis(decode)
    connections = [from_kinesis]

    connections.append(Connection(decode.key, ("success",), transform.key, name="change events"))
    connections.extend(_routed_to_dead_letter(decode, {"success"}))

    (partition, route), routing = _claim_stage_routing(transform, (merge.key,))
    connections.extend(routing)

    handled = {"success"}
    if "retry" in merge.relationships:
        # After the framework retries with back-off, a still-failing batch loops back (penalized) rather than
        # being dropped: a Snowflake outage must not lose claims.
        connections.append(Connection(merge.key, ("retry",), merge.key, name="retry (Snowflake unavailable)"))
        handled.add("retry")
    connections.extend(_routed_to_dead_letter(merge, handled))
    return _claim_flow(
        file_name=NIFI_FILE,
        name="ClaimFlow (Apache NiFi)",
        comments="DynamoDB InsuranceClaims -> Kinesis -> DecodeDynamoDBChange -> TransformClaimChange -> "
        "PartitionRecord -> RouteOnAttribute -> MergeClaimsToSnowflake (Snowpark: staging + history + order-proof "
        "merge in one transaction).",
        parameter_context="ClaimFlow NiFi",
        parameters=parameters,
        services=services,
        processors=(consume, decode, transform, partition, route, merge),
        connections=connections,
        positions=_stacked(consume, decode, transform, partition, route, merge),
        dead_letter_at=(700.0, 750.0),
    )


def all_flows(processors: Mapping[str, ProcessorSpec] | None = None) -> tuple[Flow, ...]:
    specs = _python_specs(processors)
    return (openflow_flow(specs), nifi_flow(specs))
