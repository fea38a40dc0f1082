# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""DecodeDynamoDBExport: one data file of a DynamoDB export to S3 in, ClaimFlow change events (NDJSON) out."""

from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import ExpressionLanguageScope, PropertyDescriptor, StandardValidators
from nifiapi.relationship import Relationship

from claimflow.backfill.export import file_to_lines
from claimflow.backfill.snapshot import Snapshot, SnapshotError, parse_time_us, source_id

REL_SUCCESS = Relationship(
    name="success",
    description="The change events of a data file with at least one readable item, one JSON object per line, in "
    "file order: each item an INSERT at the export time with a snapshot: event id. Unreadable lines stay in place "
    "as rejection envelopes, which TransformClaimChange routes to invalid.",
)
REL_INVALID = Relationship(
    name="invalid",
    description="Data files in which no item could be read (every line a rejection envelope), and files that are "
    "not valid gzip. The content may contain PHI; attributes hold only counts and the first reason.",
)


@use_case(
    description="Backfill the items a DynamoDB table held before streaming began, from its export to S3 "
    "(ExportTableToPointInTime, DYNAMODB_JSON), into the same change events the Kinesis stream gives.",
    notes="Each item becomes an INSERT stamped with the export time (manifest-summary.json's exportTime). The "
    "merge ranks these rows below any stream event of the same time, so streaming and backfill may run together "
    "in any order. See docs/backfill.md.",
    keywords=["dynamodb", "export", "s3", "backfill", "snapshot", "cdc"],
    configuration="""
        ListS3 (the export's data/ prefix) -> FetchS3Object -> this processor -> TransformClaimChange.
        Set Export Time to the exportTime of the export's manifest-summary.json (a parameter), Export ARN to its
        exportArn. Connect 'invalid' and 'failure' to a dead-letter destination.
        """,
)
class DecodeDynamoDBExport(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = """Decodes one data file of a DynamoDB export to S3 (DYNAMODB_JSON: gzipped, one
            {"Item": {...}} per line) into ClaimFlow change events: each item an INSERT of the whole item at the
            export time, with a deterministic snapshot: event id (same file, same ids). One output line per input
            line; a line that cannot be read becomes a rejection envelope naming its index and the reason (never a
            value). Sets record.count, cdc.decoded.count, cdc.rejected.count, cdc.snapshot.time.us."""
        tags = ["dynamodb", "export", "s3", "backfill", "snapshot", "cdc", "claimflow"]
        dependencies = ["orjson>=3.10,<4", "simple-icd-10-cm>=1.5,<2"]

    EXPORT_TIME = PropertyDescriptor(
        name="Export Time",
        description="The point in time the export reflects: exportTime of its manifest-summary.json (ISO 8601, "
        "e.g. 2024-05-01T12:00:00.000Z) or epoch milliseconds. Every item is stamped with it.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES,
    )
    EXPORT_ARN = PropertyDescriptor(
        name="Export ARN",
        description="exportArn of the export's manifest-summary.json: names the snapshot in every event id.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        expression_language_scope=ExpressionLanguageScope.FLOWFILE_ATTRIBUTES,
    )
    KEY_ATTRIBUTES = PropertyDescriptor(
        name="Key Attributes",
        description="The table's key attribute names, comma-separated (the partition key, then the sort key).",
        required=True,
        default_value="claim_id",
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
    )

    def __init__(self, **kwargs):
        super().__init__()

    def getPropertyDescriptors(self):
        return [self.EXPORT_TIME, self.EXPORT_ARN, self.KEY_ATTRIBUTES]

    def getRelationships(self):
        return [REL_SUCCESS, REL_INVALID]

    def transform(self, context, flowFile):
        try:
            return self.decode(context, flowFile)
        except Exception as error:
            reason = f"internal error ({type(error).__name__})"
            self.logger.error(f"Routing to failure: {reason}")
            return FlowFileTransformResult(relationship="failure", attributes={"cdc.error": reason})

    def decode(self, context, flowFile):
        export_time = context.getProperty(self.EXPORT_TIME).evaluateAttributeExpressions(flowFile).getValue()
        export_arn = context.getProperty(self.EXPORT_ARN).evaluateAttributeExpressions(flowFile).getValue()
        keys = [k.strip() for k in context.getProperty(self.KEY_ATTRIBUTES).getValue().split(",") if k.strip()]
        attributes = flowFile.getAttributes()
        # FetchS3Object names the FlowFile after the object key: part of each event id, so ids are stable.
        file_key = attributes.get("filename") or attributes.get("uuid") or ""
        try:
            snapshot = Snapshot(source_id(export_arn or ""), parse_time_us(export_time), key_attributes=keys)
            decoded = file_to_lines(flowFile.getContentsAsBytes(), snapshot, file_key)
        except SnapshotError as error:
            self.logger.info(f"Routing to invalid: {error}")
            return FlowFileTransformResult(relationship=REL_INVALID.name, attributes={"cdc.error": str(error)})
        if decoded.first_error is not None:
            self.logger.info(
                f"{decoded.rejected} of {decoded.total} export items could not be read; first: {decoded.first_error}"
            )
        out = decoded.attributes()
        out["cdc.snapshot.time.us"] = str(snapshot.time_us)
        relationship = REL_INVALID.name if decoded.rejected and not decoded.decoded else REL_SUCCESS.name
        return FlowFileTransformResult(relationship=relationship, attributes=out, contents=decoded.content)
