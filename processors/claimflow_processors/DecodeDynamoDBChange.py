# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""DecodeDynamoDBChange: Kinesis-delivered DynamoDB change records in, ClaimFlow change events (NDJSON) out."""

from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.relationship import Relationship

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

    def __init__(self, **kwargs):
        super().__init__()

    def getPropertyDescriptors(self):
        return []

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
        decoded = decode_to_lines(flowFile.getContentsAsBytes(), flowFile.getAttributes())
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
