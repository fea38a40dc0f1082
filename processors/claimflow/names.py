"""The names the pieces of ClaimFlow share: one place, so the demo, the flow definitions and infra/ agree.

infra/claimflow-source.yaml defaults its ``StreamName`` and ``TableName`` parameters to the same values (it is
YAML, so it cannot import them); tests/docs/test_docs_names.py fails when any file of the repository names
another Kinesis stream.
"""

from __future__ import annotations

# The Kinesis data stream the DynamoDB table streams its changes into (Kinesis Data Streams for DynamoDB).
KINESIS_STREAM = "claimflow-insurance-claims"
# The DynamoDB claims table.
DYNAMODB_TABLE = "InsuranceClaims"
