# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""MergeClaimsToSnowflake: claim rows in; staging + history appended and the current-state table merged, in one
Snowflake transaction (Snowpark)."""

from nifiapi.documentation import use_case
from nifiapi.flowfiletransform import FlowFileTransform, FlowFileTransformResult
from nifiapi.properties import (
    ExpressionLanguageScope,
    PropertyDependency,
    PropertyDescriptor,
    StandardValidators,
    ValidationResult,
)
from nifiapi.relationship import Relationship

from claimflow.snowflake.service import (
    InvalidSettings,
    MergeService,
    MergeSettings,
    classify_error,
    default_session_factory,
)
from claimflow.snowflake.spec import STRATEGY_NAME, TableNames

# NiFi documents a property from this file's source without importing it, and resolves only string constants
# defined here: these equal claimflow.snowflake.service's KEY_PAIR / PASSWORD and TableNames() (a test holds them).
KEY_PAIR = "KEY_PAIR"
PASSWORD = "PASSWORD"
STAGING_TABLE_DEFAULT = "CLAIMS_STAGING"
HISTORY_TABLE_DEFAULT = "CLAIMS_EVENT_HISTORY"
DESTINATION_TABLE_DEFAULT = "CLAIMS_CURRENT"

REL_SUCCESS = Relationship(
    name="success",
    description="FlowFiles whose rows were committed: appended to staging and history and merged.",
)
REL_RETRY = Relationship(
    name="retry",
    description="FlowFiles that hit a transient error (network, HTTP 5xx, lock or statement timeout). The "
    "transaction was rolled back, so nothing of the FlowFile was applied; route back to this processor.",
)
REL_FAILURE = Relationship(
    name="failure",
    description="FlowFiles that cannot be merged (invalid rows, configuration, permanent Snowflake errors); "
    "nothing was applied. cdc.error holds the reason, never a data value.",
)

@use_case(
    description="Keep a Snowflake current-state table of insurance claims exactly right from a stream of claim "
    "change rows, whatever their order, duplicates or replays.",
    notes="The merge is a versioned upsert with tombstones: the latest event version per claim wins, REMOVE keeps "
    "a tombstone, older or replayed events change nothing. Run sql/00..05 first.",
    keywords=["snowflake", "snowpark", "merge", "cdc", "claims", "upsert"],
    configuration="""
        Connect TransformClaimChange's insert, modify and remove relationships (or ProcessClaimChange's rows) here.
        Set Account, User and Private Key (key-pair authentication); keep Role = CLAIMFLOW_MERGER.
        Route 'retry' back to this processor (with a penalty/backoff), and 'failure' to a dead-letter destination.
        """,
)
class MergeClaimsToSnowflake(FlowFileTransform):
    class Java:
        implements = ["org.apache.nifi.python.processor.FlowFileTransform"]

    class ProcessorDetails:
        version = "0.1.0"
        description = """Appends a FlowFile of ClaimFlow claim rows (NDJSON or a JSON array) to the Snowflake
            staging and history tables and merges them into the current-state table, in ONE transaction, with
            Snowpark. Merge semantics: versioned upsert with tombstones (last writer wins by event version:
            event time, then Kinesis sequence number numerically, then operation, then eventId). Transient errors
            go to retry with nothing applied; permanent ones to failure with cdc.error (never a data value)."""
        tags = ["snowflake", "snowpark", "merge", "cdc", "claims", "healthcare", "claimflow"]
        dependencies = [
            "snowflake-snowpark-python>=1.50,<2",
            "snowflake-connector-python>=4.8,<5",
            "cryptography>=42",
            "pandas<3",
            "orjson>=3.10,<4",
        ]

    AUTH_STRATEGY = PropertyDescriptor(
        name="Authentication Strategy",
        description="KEY_PAIR (recommended; the service user has an RSA public key and no password) or PASSWORD.",
        required=True,
        allowable_values=[KEY_PAIR, PASSWORD],
        default_value=KEY_PAIR,
    )
    ACCOUNT = PropertyDescriptor(
        name="Account",
        description="Snowflake account identifier, e.g. myorg-myaccount.",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    USER = PropertyDescriptor(
        name="User",
        description="Snowflake user (a TYPE = SERVICE user, see sql/00_setup.sql).",
        required=True,
        validators=[StandardValidators.NON_EMPTY_VALIDATOR],
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    ROLE = PropertyDescriptor(
        name="Role",
        description="Role to use; CLAIMFLOW_MERGER writes staging, history and the current-state table.",
        required=False,
        default_value="CLAIMFLOW_MERGER",
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    WAREHOUSE = PropertyDescriptor(
        name="Warehouse",
        description="Warehouse that runs the merge.",
        required=True,
        default_value="CLAIMFLOW_WH",
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    DATABASE = PropertyDescriptor(
        name="Database",
        description="Database holding the ClaimFlow tables (CDC_DB for the quickstart's names).",
        required=True,
        default_value="CLAIMFLOW_DB",
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    SCHEMA = PropertyDescriptor(
        name="Schema",
        description="Schema holding the ClaimFlow tables (CDC_SCHEMA for the quickstart's names).",
        required=True,
        default_value="CDC",
        expression_language_scope=ExpressionLanguageScope.ENVIRONMENT,
    )
    PRIVATE_KEY = PropertyDescriptor(
        name="Private Key",
        description="PEM text of the RSA private key (PKCS#8, optionally encrypted). Either this or Private Key File.",
        required=False,
        sensitive=True,
        dependencies=[PropertyDependency(AUTH_STRATEGY, KEY_PAIR)],
    )
    PRIVATE_KEY_FILE = PropertyDescriptor(
        name="Private Key File",
        description="Path of a PEM file with the RSA private key. Either this or Private Key.",
        required=False,
        validators=[StandardValidators.FILE_EXISTS_VALIDATOR],
        dependencies=[PropertyDependency(AUTH_STRATEGY, KEY_PAIR)],
    )
    PRIVATE_KEY_PASSPHRASE = PropertyDescriptor(
        name="Private Key Passphrase",
        description="Passphrase of an encrypted private key.",
        required=False,
        sensitive=True,
        dependencies=[PropertyDependency(AUTH_STRATEGY, KEY_PAIR)],
    )
    PASSWORD_PROPERTY = PropertyDescriptor(
        name="Password",
        description="Password of the user (only for PASSWORD authentication).",
        required=False,
        sensitive=True,
        dependencies=[PropertyDependency(AUTH_STRATEGY, PASSWORD)],
    )
    STAGING_TABLE = PropertyDescriptor(
        name="Staging Table",
        description="CDC staging table (insert-only landing).",
        required=True,
        default_value=STAGING_TABLE_DEFAULT,
    )
    HISTORY_TABLE = PropertyDescriptor(
        name="History Table",
        description="Append-only event history table.",
        required=True,
        default_value=HISTORY_TABLE_DEFAULT,
    )
    DESTINATION_TABLE = PropertyDescriptor(
        name="Destination Table",
        description="Current-state table (one row per claim, with tombstones).",
        required=True,
        default_value=DESTINATION_TABLE_DEFAULT,
    )
    LOCAL_TESTING = PropertyDescriptor(
        name="Snowpark Local Testing",
        description="Advanced, for tests and demos only: run against an in-memory Snowpark local-testing session "
        "(no account; data is lost when the processor stops).",
        required=True,
        allowable_values=["true", "false"],
        default_value="false",
    )

    def __init__(self, **kwargs):
        super().__init__()
        # Tests pass session_factory to share a Snowpark local-testing session; NiFi passes only jvm.
        self.session_factory = kwargs.get("session_factory") or default_session_factory
        self.service = None

    def getPropertyDescriptors(self):
        return [
            self.AUTH_STRATEGY, self.ACCOUNT, self.USER, self.ROLE, self.WAREHOUSE, self.DATABASE, self.SCHEMA,
            self.PRIVATE_KEY, self.PRIVATE_KEY_FILE, self.PRIVATE_KEY_PASSPHRASE, self.PASSWORD_PROPERTY,
            self.STAGING_TABLE, self.HISTORY_TABLE, self.DESTINATION_TABLE, self.LOCAL_TESTING,
        ]  # fmt: skip

    def getRelationships(self):
        return [REL_SUCCESS, REL_RETRY, REL_FAILURE]

    def customValidate(self, context):
        try:
            self.settings(context).validate()
        except InvalidSettings as problem:  # the message names the setting, never its value
            return [ValidationResult(subject="Snowflake connection", explanation=str(problem), valid=False)]
        return []

    def onScheduled(self, context):
        self.service = MergeService(self.settings(context), self.session_factory)  # session is created lazily

    def onStopped(self, context):
        if self.service is not None:
            self.service.close()
            self.service = None

    def settings(self, context):
        def value(descriptor):
            prop = context.getProperty(descriptor)
            if prop is None:
                return None
            if descriptor.expressionLanguageScope != ExpressionLanguageScope.NONE:
                prop = prop.evaluateAttributeExpressions()
            return prop.getValue()

        return MergeSettings(
            account=value(self.ACCOUNT) or "",
            user=value(self.USER) or "",
            role=value(self.ROLE),
            warehouse=value(self.WAREHOUSE) or "",
            database=value(self.DATABASE) or "",
            schema=value(self.SCHEMA) or "",
            authentication=value(self.AUTH_STRATEGY) or KEY_PAIR,
            private_key_pem=value(self.PRIVATE_KEY),
            private_key_file=value(self.PRIVATE_KEY_FILE),
            private_key_passphrase=value(self.PRIVATE_KEY_PASSPHRASE),
            password=value(self.PASSWORD_PROPERTY),
            tables=TableNames(value(self.STAGING_TABLE), value(self.HISTORY_TABLE), value(self.DESTINATION_TABLE)),
            local_testing=(value(self.LOCAL_TESTING) or "false").lower() == "true",
        )

    def transform(self, context, flowFile):
        try:
            if self.service is None:
                self.service = MergeService(self.settings(context), self.session_factory)
            result = self.service.merge(flowFile.getContentsAsBytes())
        except Exception as error:
            outcome = classify_error(error)
            if outcome.reconnect and self.service is not None:
                self.service.reset()
            self.logger.error(f"Routing to {outcome.relationship}: {outcome.reason}")
            return FlowFileTransformResult(relationship=outcome.relationship, attributes={"cdc.error": outcome.reason})
        attributes = {
            "cdc.batch.id": result.batch_id,
            "record.count": str(result.rows),
            "cdc.merge.inserted": str(result.inserted),
            "cdc.merge.updated": str(result.updated),
            "cdc.merge.ignored": str(result.ignored),
            "cdc.merge.strategy": STRATEGY_NAME,
        }
        return FlowFileTransformResult(relationship="success", attributes=attributes)
