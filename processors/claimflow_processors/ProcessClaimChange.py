# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""ProcessClaimChange: raw Kinesis DynamoDB records in, every record's claim row or dead letter out (NDJSON).

A FlowFileTransform: one call per FlowFile with its content, decoded and built by ClaimFlow itself, so no record
reader can fail a FlowFile before ClaimFlow sees its records. The flow routes the output per record with Java
processors (PartitionRecord, then RouteOnAttribute: see claimflow.record_routing.PARTITION_PATHS and ROUTES).
"""

from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import PropertyDependency, PropertyDescriptor, StandardValidators, ValidationResult
from nifiapi.relationship import Relationship

from claimflow.record_routing import (
    claim_settings_from_context,
    claim_settings_problem,
    flowfile_outcome,
    route_content,
)

PHI_PASS_THROUGH = "Pass Through"
PHI_PSEUDONYMIZE = "Pseudonymize"
PHI_SAFE_HARBOR = "Safe Harbor"

REL_SUCCESS = Relationship(
    name="success",
    description="Every record's outcome, one JSON object per line in input order: a claim row (every column of "
    "the claim row definition; eventName tells its operation) or, for a record that cannot become a row, a dead "
    "letter: index, eventId, error (the record and the rule broken, never a value), rule and record (the original "
    "as JSON text; may contain PHI). Route it with PartitionRecord (cdc.operation = /eventName, cdc.error = /rule) "
    "and RouteOnAttribute, as the shipped Openflow flow does.",
)


@use_case(
    description="Turn the DynamoDB change records of a 'Kinesis Data Streams for DynamoDB' stream into "
    "warehouse-ready claim rows routed by operation, with a single Python processor (for Snowflake Openflow, "
    "which recommends few Python processors per runtime).",
    notes="Accepts one record, a JSON array, newline-delimited records and both consumers' wrapper layouts, as "
    "DecodeDynamoDBChange does. Rows carry every column of the claim row definition; decimals travel as strings.",
    keywords=["dynamodb", "kinesis", "claims", "healthcare", "cdc", "openflow", "snowflake", "phi", "route"],
    configuration="""
        Connect ConsumeKinesisStream's (or ConsumeKinesis's) 'success' relationship to this processor.
        Set "PHI Handling"; with "Pseudonymize", provide "HMAC Key" from a sensitive parameter.
        Connect 'success' to PartitionRecord (a JsonTreeReader and a JsonRecordSetWriter with the claim row's wire
        schema; properties cdc.operation = /eventName and cdc.error = /rule), and its 'success' to RouteOnAttribute
        (Route to Property name; insert, modify, remove: ${cdc.operation:equals('INSERT')} and so on; invalid:
        ${cdc.error:isEmpty():not()}). Connect insert, modify and remove to PutSnowpipeStreaming (or
        MergeClaimsToSnowflake), and invalid, unmatched and every failure to a dead-letter destination.
        """,
)
class ProcessClaimChange(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = """Decodes 'Kinesis Data Streams for DynamoDB' change records and validates, enriches and
            flattens them into claim rows in one step (DecodeDynamoDBChange and TransformClaimChange fused, for
            Snowflake Openflow). Writes one line per record: its claim row, or a dead letter with the reason (never
            a data value) and the original record; one bad record never takes the others down with it. The flow
            routes the lines by event type and rule (PartitionRecord, RouteOnAttribute). Sets record.count,
            cdc.insert.count, cdc.modify.count, cdc.remove.count and cdc.invalid.count. ICD-10-CM codes are checked
            against the CMS code set, NPIs by check digit; direct identifiers can be pseudonymised with a keyed HMAC
            and quasi-identifiers generalised."""
        tags = ["claims", "healthcare", "cdc", "dynamodb", "kinesis", "openflow", "icd-10-cm", "phi", "claimflow"]
        dependencies = ["orjson>=3.10,<4", "simple-icd-10-cm>=1.5,<2"]

    # The same properties as TransformClaimChange, written out in each: NiFi documents only the PropertyDescriptor calls
    # in the processor's own class (an imported descriptor is run but never documented). tests/processors fails
    # when the two drift apart; what they mean lives in claimflow.record_routing.
    PHI_HANDLING = PropertyDescriptor(
        name="PHI Handling",
        description="What happens to direct identifiers (names, street, phone, e-mail, member id). 'Pass Through' "
        "keeps them, to be protected by Snowflake masking policies; 'Pseudonymize' replaces each with a keyed "
        "HMAC-SHA256 token, stable across records so joins still work; 'Safe Harbor' de-identifies the row by "
        "HIPAA's Safe Harbor method (every date to its year, ages over 89 as 90, ZIP3 with the 000 rule, direct "
        "identifiers removed, keys as keyed tokens; see docs/security.md).",
        required=True,
        allowable_values=[PHI_PASS_THROUGH, PHI_PSEUDONYMIZE, PHI_SAFE_HARBOR],
        default_value=PHI_PASS_THROUGH,
    )
    HMAC_KEY = PropertyDescriptor(
        name="HMAC Key",
        description="Secret key of at least 32 bytes, with varied bytes, for the keyed tokens of Pseudonymize and "
        "Safe Harbor. Use a sensitive parameter (generate one: openssl rand -base64 48); rotating it changes every "
        "token.",
        required=True,
        sensitive=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        dependencies=[PropertyDependency(PHI_HANDLING, PHI_PSEUDONYMIZE, PHI_SAFE_HARBOR)],
    )
    GENERALIZE_ZIP = PropertyDescriptor(
        name="Generalize ZIP to 3 Digits",
        description="Keep only the first three digits of the patient ZIP (000 for sparsely populated areas) and "
        "drop the patient city.",
        required=True,
        allowable_values=["true", "false"],
        default_value="false",
        validators=[StandardValidators.BOOLEAN_VALIDATOR],
    )
    GENERALIZE_BIRTH_DATE = PropertyDescriptor(
        name="Generalize Birth Date to Year",
        description="Keep only the year of birth (ages above 89 capped at 90).",
        required=True,
        allowable_values=["true", "false"],
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
        allowable_values=["true", "false"],
        default_value="false",
        validators=[StandardValidators.BOOLEAN_VALIDATOR],
    )

    # The same event-time properties as DecodeDynamoDBChange (this processor decodes too), written out for the same
    # reason; tests/processors fails when the two copies drift apart. What they mean lives in
    # claimflow.event_time.EventTimeRules.
    MAX_CLOCK_SKEW = PropertyDescriptor(
        name="Maximum Clock Skew",
        description="How far a record's ApproximateCreationDateTime may lie past its Kinesis arrival (without an "
        "arrival: past this machine's clock) before the record is rejected as implausible. DynamoDB stamps a change "
        "before Kinesis receives it, so more than clock skew means a wrong clock or unit, and such a time would "
        "outrank every later change of the claim. A time period from 1 sec to 24 hours.",
        required=True,
        default_value="15 min",
        validators=[StandardValidators.TIME_PERIOD_VALIDATOR],
    )
    MILLISECOND_PRECISION_SINCE = PropertyDescriptor(
        name="Millisecond Precision Since",
        description="Set only when the stream's ApproximateCreationDateTimePrecision was switched from MICROSECOND "
        "to MILLISECOND: a time (ISO 8601, UTC, e.g. 2026-05-01T12:00:00Z) at or before the switch and after any "
        "earlier MILLISECOND period. A MILLISECOND time whose millisecond ends at or after it is read as the last "
        "microsecond of that millisecond, so a change after the switch never orders below a MICROSECOND change "
        "made before it in the same millisecond. Empty: every MILLISECOND time is read as its first microsecond "
        "(right for a stream that never switched or switched to MICROSECOND). Give every processor and command "
        "that decodes the stream the same value (docs/guarantees.md, Mixed precision).",
        required=False,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )

    def __init__(self, **kwargs):
        super().__init__()
        self.settings = None

    def getPropertyDescriptors(self):
        return [
            self.PHI_HANDLING,
            self.HMAC_KEY,
            self.GENERALIZE_ZIP,
            self.GENERALIZE_BIRTH_DATE,
            self.STRICT_VALIDATION,
            self.MAX_CLOCK_SKEW,
            self.MILLISECOND_PRECISION_SINCE,
        ]

    def getRelationships(self):
        return [REL_SUCCESS]

    def customValidate(self, context):
        problem = claim_settings_problem(context)
        if problem is None:
            return []
        subject, explanation = problem
        # input=None: never echo a value (the key least of all) back into the UI or a bulletin.
        return [ValidationResult(subject=subject, explanation=explanation, valid=False, input=None)]

    def onScheduled(self, context):
        self.settings = claim_settings_from_context(context)
        self.logger.info(f"Scheduled with {self.settings!r}")

    def onStopped(self, context):
        self.settings = None  # forget the settings (and with them the HMAC key): a restart reads them anew

    def transform(self, context, flowFile):
        outcome = flowfile_outcome(
            lambda: route_content(flowFile.getContentsAsBytes(), self.settings, flowFile.getAttributes())
        )
        outcome.log_to(self.logger)
        return FlowFileTransformResult(
            relationship=outcome.relationship, attributes=dict(outcome.attributes), contents=outcome.content
        )
