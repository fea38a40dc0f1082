# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""DecodeDynamoDBChange: Kinesis-delivered DynamoDB change records in, ClaimFlow change events (NDJSON) out."""

from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import PropertyDescriptor, StandardValidators, ValidationResult
from nifiapi.relationship import Relationship

from claimflow.event_time import time_rules_from_strings
from claimflow.events import decode_to_lines

REL_SUCCESS = Relationship(
    name="success",
    description="The change events of a FlowFile with at least one decodable record, one JSON object per line, in "
    "input order. Records that could not be decoded stay in place as rejection envelopes "
    '({"cdc_rejected": {...}}), which TransformClaimChange routes to invalid.',
)
REL_INVALID = Relationship(
    name="invalid",
    description="FlowFiles in which no record could be decoded (every line a rejection envelope). The content "
    "holds the original records and may contain PHI; attributes hold only counts and the first reason.",
)


@use_case(
    description="Decode the DynamoDB change records that ConsumeKinesisStream or ConsumeKinesis read from a "
    "'Kinesis Data Streams for DynamoDB' stream into one JSON change event per line.",
    notes="Accepts one record, a JSON array, newline-delimited records and both consumers' wrapper layouts. "
    "The Kinesis shard, sequence number and arrival time are taken from the FlowFile attributes of either consumer "
    "when the FlowFile holds one record, and from wrapper metadata otherwise.",
    keywords=["dynamodb", "kinesis", "cdc", "change data capture", "decode", "stream"],
    configuration="""
        Connect ConsumeKinesisStream's (or ConsumeKinesis's) 'success' relationship to this processor.
        Connect 'success' to TransformClaimChange, and 'invalid' and 'failure' to a dead-letter destination.
        """,
)
class DecodeDynamoDBChange(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = """Decodes 'Kinesis Data Streams for DynamoDB' change records (DynamoDB JSON with type tags)
            into ClaimFlow change events: one JSON object per line with event_id, event_name, the key, the new and
            old images as plain JSON (numbers exact, sets sorted) and the Kinesis position. One output per input:
            a record that cannot be decoded becomes a rejection envelope line naming its index and the reason, so
            one bad record never holds back the others. Sets record.count, cdc.decoded.count, cdc.rejected.count,
            per-operation counts and cdc.error (the first reason, never a data value)."""
        tags = ["dynamodb", "kinesis", "cdc", "change data capture", "decode", "json", "claimflow"]
        dependencies = ["orjson>=3.10,<4", "simple-icd-10-cm>=1.5,<2"]

    # The same event-time properties as ProcessClaimChange, repeated on purpose: NiFi reads each processor's
    # descriptors from its own source file (AST). tests/processors fails when the two copies drift apart; what they
    # mean lives in claimflow.event_time.EventTimeRules.
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
        self.rules = None

    def getPropertyDescriptors(self):
        return [self.MAX_CLOCK_SKEW, self.MILLISECOND_PRECISION_SINCE]

    def customValidate(self, context):
        try:
            self.time_rules(context)
        except ValueError as error:  # the reason names the property and the rule
            subject = str(error).partition(":")[0]
            return [ValidationResult(subject=subject, explanation=str(error), valid=False, input=None)]
        return []

    def onScheduled(self, context):
        self.rules = self.time_rules(context)

    def onStopped(self, context):
        self.rules = None

    def time_rules(self, context):
        return time_rules_from_strings(
            context.getProperty(self.MAX_CLOCK_SKEW).getValue(),
            context.getProperty(self.MILLISECOND_PRECISION_SINCE).getValue(),
        )

    def getRelationships(self):
        return [REL_SUCCESS, REL_INVALID]

    def transform(self, context, flowFile):
        try:
            return self.decode(flowFile)
        except Exception as error:
            # NiFi would log the exception text, which could quote data: log and route with the type name only.
            reason = f"internal error ({type(error).__name__})"
            # One string: NiFi's logger is Java's ComponentLog over py4j, which takes no extra arguments.
            self.logger.error(f"Routing to failure: {reason}")
            return FlowFileTransformResult(relationship="failure", attributes={"cdc.error": reason})

    def decode(self, flowFile):
        decoded = decode_to_lines(flowFile.getContentsAsBytes(), flowFile.getAttributes(), self.rules)
        if decoded.first_error is not None:
            # info, not warn: a warning is also a bulletin, and bad records are routine at volume (the invalid
            # relationship and the counts in the attributes are where an operator sees them).
            self.logger.info(
                f"{decoded.rejected} of {decoded.total} records could not be decoded; first: {decoded.first_error}"
            )
        relationship = REL_INVALID.name if decoded.rejected and not decoded.decoded else REL_SUCCESS.name
        return FlowFileTransformResult(
            relationship=relationship, attributes=decoded.attributes(), contents=decoded.content
        )
