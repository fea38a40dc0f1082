# Licensed under the Apache License, Version 2.0 (see the project's LICENSE).
"""TransformClaimChange: change events in, validated, enriched and flattened claim rows out, routed per record."""

from nifiapi.documentation import use_case
from nifiapi.properties import PropertyDependency, PropertyDescriptor, StandardValidators, ValidationResult
from nifiapi.recordtransform import RecordTransform, RecordTransformResult
from nifiapi.relationship import Relationship

from claimflow.record_routing import FlowFilePositions, claim_settings_from_properties, route_change_event_record

PHI_PASS_THROUGH = "Pass Through"
PHI_PSEUDONYMIZE = "Pseudonymize"
PHI_SAFE_HARBOR = "Safe Harbor"

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
        dependencies = ["orjson>=3.10,<4", "simple-icd-10-cm>=1.5,<2"]

    # The same properties as ProcessClaimChange, repeated on purpose: NiFi reads each processor's descriptors
    # from its own source file (AST), so they cannot be shared. What they mean lives in claimflow.record_routing.
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
        self.logger.info(f"Scheduled with {self.settings!r}")

    def onStopped(self, context):
        # Forget the settings (and with them the HMAC key) and the FlowFile position: a restart reads them anew.
        self.settings = None
        self.positions = FlowFilePositions()

    def claim_settings(self, context):
        key = context.getProperty(self.HMAC_KEY)
        return claim_settings_from_properties(
            phi_handling=context.getProperty(self.PHI_HANDLING).getValue(),
            hmac_key=None if key is None else key.getValue(),
            generalize_zip=context.getProperty(self.GENERALIZE_ZIP).getValue(),
            generalize_birth_date=context.getProperty(self.GENERALIZE_BIRTH_DATE).getValue(),
            strict_validation=context.getProperty(self.STRICT_VALIDATION).getValue(),
        )

    def transform(self, context, record, schema, attributemap):
        position = self.positions.next(attributemap.getAttribute("uuid"))
        outcome = route_change_event_record(record, position.index, self.settings, position.ingest_time_us)
        if outcome.unexpected:
            self.logger.error(f"Routing to invalid: {outcome.reason}")  # a ClaimFlow bug: loud, as a bulletin
        elif outcome.reason is not None:
            self.logger.debug(f"Routing to invalid: {outcome.reason}")  # bad data: per record, so not a bulletin
        return RecordTransformResult(
            record=outcome.record, relationship=outcome.relationship, partition=outcome.partition
        )
