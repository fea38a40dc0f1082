# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""TransformClaimChange: change events in, validated, enriched and flattened claim rows out, routed per record."""

import collections
import json
import re
import threading
import time

from nifiapi.documentation import use_case
from nifiapi.properties import PropertyDependency, PropertyDescriptor, StandardValidators, ValidationResult
from nifiapi.recordtransform import RecordTransform, RecordTransformResult
from nifiapi.relationship import Relationship

from claimflow.claims import ClaimSettings, PhiMode, route_events
from claimflow.events import ChangeEvent, DecodeError, Rejection

PHI_PASS_THROUGH = "Pass Through"
PHI_PSEUDONYMIZE = "Pseudonymize"
PHI_MODES = {PHI_PASS_THROUGH: PhiMode.PASSTHROUGH.value, PHI_PSEUDONYMIZE: PhiMode.PSEUDONYMIZE.value}
TRUE_FALSE = ["true", "false"]
# DecodeDynamoDBChange writes a record it could not decode as {"cdc_rejected": {index, event_id, error, raw}}.
REJECTION_FIELD = "cdc_rejected"
# Reasons read "record 3 (eventId ...): field: rule"; the attribute keeps the rule so outputs group by it.
RECORD_PREFIX = re.compile(r"^record \d+(?: \(eventI[Dd] [^)]*\))?: ")

REL_INSERT = Relationship(name="insert", description="Claim rows of INSERT events (new claims).")
REL_MODIFY = Relationship(name="modify", description="Claim rows of MODIFY events (the claim's new state).")
REL_REMOVE = Relationship(
    name="remove", description="Claim rows of REMOVE events (deleted or TTL-expired claims; key always present)."
)
REL_INVALID = Relationship(
    name="invalid",
    description="Records that cannot become a claim row, one per record: index, eventId, error (the rule broken, "
    "never a value) and record (the original as JSON text; may contain PHI). Grouped by reason (cdc.error).",
)


@use_case(
    description="Turn ClaimFlow change events into warehouse-ready claim rows routed by operation, for an "
    "append-only history and an order-proof merge into a current-state table.",
    notes="Set a JSON Tree Reader and a JSON Record Set Writer. Every row carries every column of the claim row "
    "definition, so schema inference sees a stable shape; decimals travel as strings so money stays exact.",
    keywords=["claims", "healthcare", "cdc", "icd-10", "phi", "hipaa", "route", "validate"],
    configuration="""
        Set "Record Reader" to a JsonTreeReader and "Record Writer" to a JsonRecordSetWriter.
        Set "PHI Handling" to "Pass Through" (mask in Snowflake) or "Pseudonymize" and provide "HMAC Key"
        from a sensitive parameter.
        Connect 'insert', 'modify' and 'remove' to the Snowflake writer; connect 'invalid' and 'failure' to a
        dead-letter destination.
        """,
)
@use_case(
    description="De-identify claim rows before they leave the network (HIPAA Safe Harbor style generalisation).",
    keywords=["phi", "pseudonymize", "de-identify", "safe harbor", "hmac"],
    configuration="""
        Set "PHI Handling" to "Pseudonymize" and "HMAC Key" to a sensitive parameter of at least 32 bytes.
        Set "Generalize ZIP to 3 Digits" to "true" and "Generalize Birth Date to Year" to "true".
        """,
)
class TransformClaimChange(RecordTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.RecordTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = """Validates, enriches and flattens ClaimFlow change events (from DecodeDynamoDBChange) into
            claim rows and routes each record to insert, modify or remove by its DynamoDB event type. A record that
            cannot become a row goes to invalid with the reason (never a data value) and the original record, and
            never takes the other records of its FlowFile down with it. ICD-10-CM codes are checked against the
            CMS code set, NPIs by check digit; direct identifiers can be pseudonymised with a keyed HMAC and
            quasi-identifiers generalised."""
        tags = ["claims", "healthcare", "cdc", "dynamodb", "icd-10-cm", "phi", "hipaa", "record", "route", "claimflow"]
        dependencies = ["orjson>=3.10,<4", "pydantic>=2.7,<3", "simple-icd-10-cm>=1.5,<2"]

    PHI_HANDLING = PropertyDescriptor(
        name="PHI Handling",
        description="What happens to direct identifiers (names, street, phone, e-mail, member id). 'Pass Through' "
        "keeps them, to be protected by Snowflake masking policies; 'Pseudonymize' replaces each with a keyed "
        "HMAC-SHA256 token, stable across records so joins still work.",
        required=True,
        allowable_values=[PHI_PASS_THROUGH, PHI_PSEUDONYMIZE],
        default_value=PHI_PASS_THROUGH,
    )
    HMAC_KEY = PropertyDescriptor(
        name="HMAC Key",
        description="Secret key of at least 32 bytes for pseudonymisation. Use a sensitive parameter; rotating it "
        "changes every token.",
        required=True,
        sensitive=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        dependencies=[PropertyDependency(PHI_HANDLING, PHI_PSEUDONYMIZE)],
    )
    GENERALIZE_ZIP = PropertyDescriptor(
        name="Generalize ZIP to 3 Digits",
        description="Keep only the first three digits of the patient ZIP (000 for sparsely populated areas) and "
        "drop the patient city.",
        required=True,
        allowable_values=TRUE_FALSE,
        default_value="false",
        validators=[StandardValidators.BOOLEAN_VALIDATOR],
    )
    GENERALIZE_BIRTH_DATE = PropertyDescriptor(
        name="Generalize Birth Date to Year",
        description="Keep only the year of birth (ages above 89 capped at 90).",
        required=True,
        allowable_values=TRUE_FALSE,
        default_value="false",
        validators=[StandardValidators.BOOLEAN_VALIDATOR],
    )
    STRICT_VALIDATION = PropertyDescriptor(
        name="Strict Validation",
        description="Route a claim to invalid on any data-quality finding (for example a non-billable ICD-10-CM "
        "code, a missing expected field, line charges that do not add up) instead of listing it in "
        "dataQualityFlags. Codes outside ICD-10-CM and NPIs with a bad check digit are always invalid. "
        "A REMOVE always gets through.",
        required=True,
        allowable_values=TRUE_FALSE,
        default_value="false",
        validators=[StandardValidators.BOOLEAN_VALIDATOR],
    )

    def __init__(self, **kwargs):
        super().__init__()
        self.settings = None
        self.positions = FlowFilePositions()

    def getPropertyDescriptors(self):
        return [
            self.PHI_HANDLING,
            self.HMAC_KEY,
            self.GENERALIZE_ZIP,
            self.GENERALIZE_BIRTH_DATE,
            self.STRICT_VALIDATION,
        ]

    def getRelationships(self):
        return [REL_INSERT, REL_MODIFY, REL_REMOVE, REL_INVALID]

    def customValidate(self, context):
        key = context.getProperty(self.HMAC_KEY)
        if key is None or not key.isSet():
            return []  # hidden by its dependency, or missing: NiFi's required check reports that
        try:
            self.claim_settings(context)
        except ValueError as error:
            # input=None: never echo the key back into the UI or a bulletin.
            return [ValidationResult(subject=self.HMAC_KEY.name, explanation=str(error), valid=False, input=None)]
        return []

    def onScheduled(self, context):
        self.settings = self.claim_settings(context)
        self.logger.info("Scheduled with {}", repr(self.settings))

    def onStopped(self, context):
        # Forget the settings (and with them the HMAC key) and the FlowFile position: a restart reads them anew.
        self.settings = None
        self.positions = FlowFilePositions()

    def claim_settings(self, context):
        key = context.getProperty(self.HMAC_KEY)
        return ClaimSettings.from_strings(
            phi_mode=PHI_MODES[context.getProperty(self.PHI_HANDLING).getValue()],
            hmac_key=None if key is None else key.getValue(),
            generalize_zip3=context.getProperty(self.GENERALIZE_ZIP).getValue(),
            generalize_birth_year=context.getProperty(self.GENERALIZE_BIRTH_DATE).getValue(),
            strict=context.getProperty(self.STRICT_VALIDATION).getValue(),
        )

    def transform(self, context, record, schema, attributemap):
        index, ingest_time_us, _ = self.positions.next(attributemap)
        try:
            item = change_event_or_rejection(record, index)
            routed = next(route_events([item], self.settings, ingest_time_us, first_index=index))
        except Exception as error:
            # One record's unexpected error must not fail the FlowFile; the type name carries no data.
            reason = f"record {index}: internal error ({type(error).__name__})"
            self.logger.error("Routing to invalid: {}", reason)
            return invalid_result(index, None, reason, record)
        if routed.relationship == REL_INVALID.name:
            self.logger.warn("Routing to invalid: {}", routed.error)
            return invalid_result(routed.index, routed.event_id, routed.error, routed.record)
        return RecordTransformResult(
            record=routed.row, relationship=routed.relationship, partition={"cdc.operation": routed.relationship}
        )


def change_event_or_rejection(record, index):
    envelope = record.get(REJECTION_FIELD)
    if envelope is not None:
        raw = envelope.get("raw")
        return Rejection(
            index=envelope.get("index", index),
            error=envelope.get("error") or f"record {index}: rejected by the decoder",
            raw=None if raw is None else raw.encode("utf-8"),
            event_id=envelope.get("event_id"),
        )
    event = {key: value for key, value in record.items() if key != REJECTION_FIELD}
    for image in ("new_image", "old_image"):
        if isinstance(event.get(image), dict):
            event[image] = without_nulls(event[image])
    text = json.dumps(event, separators=(",", ":"))
    try:
        return ChangeEvent.from_json(text, index)
    except DecodeError as error:
        return Rejection(index=index, error=str(error), raw=text.encode("utf-8"), event_id=error.event_id)


def without_nulls(value):
    """The image without null members. NiFi's JSON reader merges the schema of every record in the FlowFile, so a
    field that only another record has comes back here as null; left in, the core would count it as an unknown
    field on every row (and Strict Validation would reject them all). A null carries no claim data either way."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def invalid_result(index, event_id, reason, original):
    """The dead-letter record: a fixed shape whatever the original looked like, so the writer's schema holds."""
    original_text = None if original is None else json.dumps(original, separators=(",", ":"), default=str)
    record = {"index": index, "eventId": event_id, "error": reason, "record": original_text}
    return RecordTransformResult(
        record=record, relationship=REL_INVALID.name, partition={"cdc.error": RECORD_PREFIX.sub("", reason)}
    )


class FlowFilePositions:
    """Each FlowFile's next record index and ingest time, keyed by FlowFile uuid.

    NiFi hands a RecordTransform one record at a time, and concurrent tasks may call the same instance from
    several threads, so the position is kept per FlowFile under a lock; the oldest entries are forgotten.
    """

    LIMIT = 256

    def __init__(self):
        self.lock = threading.Lock()
        self.by_flowfile = collections.OrderedDict()

    def next(self, attributemap, with_attributes=False):
        """(index of this record in its FlowFile, the FlowFile's ingest time in us, its attributes or None)."""
        flowfile_id = attributemap.getAttribute("uuid")
        with self.lock:
            position = self.by_flowfile.get(flowfile_id)
            if position is None:
                # Attributes are read once per FlowFile: each read crosses to Java.
                attributes = dict(attributemap.getAttributes()) if with_attributes else None
                position = [0, time.time_ns() // 1000, attributes]
                self.by_flowfile[flowfile_id] = position
                while len(self.by_flowfile) > self.LIMIT:
                    self.by_flowfile.popitem(last=False)
            index = position[0]
            position[0] += 1
            return index, position[1], position[2]
