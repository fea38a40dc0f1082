"""The local end-to-end demo: DynamoDB (moto) -> bridge -> Kinesis (moto) -> consumer -> NiFi processors -> Snowflake.

Modules:
- ``aws``: start the local AWS emulator, build boto3 clients (the same ones that talk to real AWS), create the
  table, its DynamoDB stream and the Kinesis stream.
- ``bridge``: reshape DynamoDB Streams records into the "Kinesis Data Streams for DynamoDB" format and put them
  into Kinesis (moto does not forward table changes into Kinesis itself).
- ``generator``: realistic synthetic claims with a lifecycle, written through boto3.
- ``consumer``: a checkpointing Kinesis consumer producing FlowFiles with ConsumeKinesisStream's attributes.
- ``pipeline``, ``reconcile``, ``runner``: run the processors, land rows in Snowflake, prove source == destination.
"""
