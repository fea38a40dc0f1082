"""Fixtures of the demo tests: one moto HTTP server per module, reached through boto3 as in the demo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from claimflow.demo.aws import AwsClients, local_aws, make_clients


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsClients]:
    with local_aws() as url:
        yield make_clients(url)
