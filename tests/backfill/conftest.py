"""Fixtures of the backfill tests: one moto HTTP server per module (reached through boto3, as in the demo), a
table filled with synthetic claims, and an embedded Snowflake (fakesnow) built from sql/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from claimflow.demo.aws import EMULATOR_CREDENTIALS, AwsClients, ensure_resources, local_aws, make_clients
from claimflow.demo.generator import GeneratorConfig, generate

from ._harness import fakesnow_connection, reset_tables

TABLE = "BackfillClaims"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with local_aws() as url:
        yield url


@pytest.fixture(scope="module")
def aws(endpoint: str) -> AwsClients:
    return make_clients(endpoint)


@pytest.fixture(scope="module")
def s3(endpoint: str) -> Any:
    session = boto3.session.Session(region_name="us-east-1", **EMULATOR_CREDENTIALS)
    return session.client("s3", endpoint_url=endpoint, config=Config(account_id_endpoint_mode="disabled"))


@pytest.fixture(scope="module")
def items(aws: AwsClients) -> list[dict[str, Any]]:
    """The live items of a table filled by the demo's generator (40 claims with their lifecycles), via Scan."""
    ensure_resources(aws, TABLE, "backfill-stream", 1)
    generate(aws.dynamodb, TABLE, GeneratorConfig(claims=40, seed=11))
    found, kwargs = [], {"TableName": TABLE, "ConsistentRead": True}
    while True:
        page = aws.dynamodb.scan(**kwargs)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    with fakesnow_connection() as (conn, _report):
        yield conn


@pytest.fixture
def snowflake(fake: Any) -> Any:
    reset_tables(fake)
    return fake
