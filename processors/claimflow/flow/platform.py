"""The one place that pins what the flow definitions target: NiFi / Openflow versions, bundles, component types.

Processor property names are version-specific and NiFi migrates old names to new ones on import, never the
reverse, so the flows use the names of ``NIFI_VERSION`` (ConsumeKinesisStream's readable names date from 2.3; the
record services', AWS credentials' and key service's from the 2.x renames). Java bundle versions are advisory:
on import NiFi substitutes the one installed version of a bundle when the pinned one is absent. Python processor
bundles are not: their version must equal the processor's ``ProcessorDetails.version`` (read from the code).
"""

from __future__ import annotations

from dataclasses import dataclass

# Apache NiFi release whose property names the flows use (checked against apache/nifi tag rel/nifi-2.11.0:
# ConsumeKinesisStream, JsonTreeReader, JsonRecordSetWriter, AWSCredentialsProviderControllerService,
# StandardPrivateKeyService, RecordTransformProxy).
NIFI_VERSION = "2.11.0"
# Snowflake Openflow runtime bundle version of PutSnowpipeStreaming (Openflow processor documentation).
OPENFLOW_RUNTIME_VERSION = "2025.10.9.21"
# The flow definition encoding NiFi 2.x writes in "Download flow definition".
FLOW_ENCODING_VERSION = "1.0"


@dataclass(frozen=True)
class Bundle:
    group: str
    artifact: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"group": self.group, "artifact": self.artifact, "version": self.version}


def nifi_bundle(artifact: str) -> Bundle:
    return Bundle("org.apache.nifi", artifact, NIFI_VERSION)


AWS_NAR = nifi_bundle("nifi-aws-nar")
AWS_SERVICE_API_NAR = nifi_bundle("nifi-aws-service-api-nar")
RECORD_SERIALIZATION_NAR = nifi_bundle("nifi-record-serialization-services-nar")
STANDARD_SERVICES_API_NAR = nifi_bundle("nifi-standard-services-api-nar")
KEY_SERVICE_NAR = nifi_bundle("nifi-key-service-nar")
STANDARD_NAR = nifi_bundle("nifi-standard-nar")
OPENFLOW_SNOWPIPE_NAR = Bundle(
    "com.snowflake.openflow.runtime", "runtime-snowpipe-processors-nar", OPENFLOW_RUNTIME_VERSION
)


def python_bundle(version: str) -> Bundle:
    """The bundle NiFi gives every Python processor, whether it came from a NAR or an extensions folder."""
    return Bundle("org.apache.nifi", "python-extensions", version)


@dataclass(frozen=True)
class JavaComponent:
    """A Java processor or controller service the flows use: its type, bundle, the relationships it has in the
    configuration the flows give it (processors), and the service APIs it implements (services)."""

    type: str
    bundle: Bundle
    relationships: tuple[str, ...] = ()
    service_apis: tuple[tuple[str, Bundle], ...] = ()

    @property
    def simple_name(self) -> str:
        return self.type.rsplit(".", 1)[-1]


# ConsumeKinesisStream without a Record Reader/Writer: one FlowFile per Kinesis record, only `success`
# (`parse.failure` exists only in record mode).
CONSUME_KINESIS_STREAM = JavaComponent(
    "org.apache.nifi.processors.aws.kinesis.stream.ConsumeKinesisStream", AWS_NAR, relationships=("success",)
)
PUT_SNOWPIPE_STREAMING = JavaComponent(
    "com.snowflake.openflow.runtime.processors.snowpipe.PutSnowpipeStreaming",
    OPENFLOW_SNOWPIPE_NAR,
    relationships=("success", "failure"),
)
# The Java routing after ProcessClaimChange (apache/nifi PartitionRecord.java, RouteOnAttribute.java). Their
# dynamic properties (record paths, expressions) add attributes and, for RouteOnAttribute, relationships.
PARTITION_RECORD = JavaComponent(
    "org.apache.nifi.processors.standard.PartitionRecord",
    STANDARD_NAR,
    relationships=("success", "failure", "original"),
)
ROUTE_ON_ATTRIBUTE = JavaComponent("org.apache.nifi.processors.standard.RouteOnAttribute", STANDARD_NAR)
ROUTE_TO_PROPERTY_NAME = "Route to Property name"  # RouteOnAttribute's "Routing Strategy": a relationship per property
JSON_TREE_READER = JavaComponent(
    "org.apache.nifi.json.JsonTreeReader",
    RECORD_SERIALIZATION_NAR,
    service_apis=(("org.apache.nifi.serialization.RecordReaderFactory", STANDARD_SERVICES_API_NAR),),
)
JSON_RECORD_SET_WRITER = JavaComponent(
    "org.apache.nifi.json.JsonRecordSetWriter",
    RECORD_SERIALIZATION_NAR,
    service_apis=(("org.apache.nifi.serialization.RecordSetWriterFactory", STANDARD_SERVICES_API_NAR),),
)
AWS_CREDENTIALS_SERVICE = JavaComponent(
    "org.apache.nifi.processors.aws.credentials.provider.service.AWSCredentialsProviderControllerService",
    AWS_NAR,
    service_apis=(
        ("org.apache.nifi.processors.aws.credentials.provider.AwsCredentialsProviderService", AWS_SERVICE_API_NAR),
    ),
)
PRIVATE_KEY_SERVICE = JavaComponent(
    "org.apache.nifi.key.service.StandardPrivateKeyService",
    KEY_SERVICE_NAR,
    service_apis=(("org.apache.nifi.key.service.api.PrivateKeyService", STANDARD_SERVICES_API_NAR),),
)

# Property names (NIFI_VERSION) the flows set, kept next to the pins they belong to.
KINESIS_STREAM_NAME = "Amazon Kinesis Stream Name"
KINESIS_APPLICATION_NAME = "Application Name"
KINESIS_REGION = "Region"
KINESIS_INITIAL_POSITION = "Initial Stream Position"
KINESIS_CREDENTIALS = "AWS Credentials Provider Service"
KINESIS_CHECKPOINT_INTERVAL = "Checkpoint Interval"
SCHEMA_ACCESS_STRATEGY = "Schema Access Strategy"
SCHEMA_TEXT = "Schema Text"
SCHEMA_WRITE_STRATEGY = "Schema Write Strategy"
# AWSCredentialsProviderControllerService. Only the key pair is sensitive in NiFi; the external ID is not, and NiFi
# lets a non-sensitive property reference only non-sensitive parameters. The assume-role properties depend on
# "Assume Role ARN": while it resolves to no value NiFi ignores them and uses the primary credentials as they are.
AWS_ACCESS_KEY_ID = "Access Key ID"
AWS_SECRET_ACCESS_KEY = "Secret Access Key"
AWS_CREDENTIALS_SENSITIVE = frozenset({AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY})
ASSUME_ROLE_ARN = "Assume Role ARN"
ASSUME_ROLE_SESSION_NAME = "Assume Role Session Name"  # required once the ARN is set
ASSUME_ROLE_EXTERNAL_ID = "Assume Role External ID"
ASSUME_ROLE_STS_REGION = "Assume Role STS Region"  # a region id; NiFi's default is us-west-2
