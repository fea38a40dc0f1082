"""The claim generator in a process of its own (claimflow.demo.generator_process) writes what the generator writes
in a thread, reports each wave, stops when the demo side fails, and fails with a message that carries no data."""

from __future__ import annotations

import multiprocessing

import pytest

from claimflow.demo.aws import AwsClients, ensure_resources
from claimflow.demo.generator import ClaimGenerator, GenerateStats, GeneratorConfig, new_claims_in
from claimflow.demo.generator_process import GeneratorError, generate_in_process

CONFIG = GeneratorConfig(claims=60, seed=5, chunk_size=20)


def _expected(config: GeneratorConfig) -> tuple[GenerateStats, list[int]]:
    stats, per_wave = GenerateStats(), []
    for wave in ClaimGenerator(config).waves():
        stats.count(wave)
        per_wave.append(new_claims_in(wave))
    return stats, per_wave


def _items(aws: AwsClients, table: str) -> int:
    return int(aws.dynamodb.scan(TableName=table, Select="COUNT")["Count"])


def test_demo_generator_process_writes_what_the_generator_writes(aws: AwsClients) -> None:
    resources = ensure_resources(aws, "GenProcessClaims", "GenProcessStream", shards=1)
    waves: list[int] = []
    stats, usage = generate_in_process(aws.endpoint_url, aws.region, resources.table_name, CONFIG, waves.append)
    expected, per_wave = _expected(CONFIG)
    assert stats == expected and stats.claims == CONFIG.claims
    assert waves == per_wave  # each wave reported as it was written, in order
    assert _items(aws, resources.table_name) == stats.claims - stats.deletes
    assert usage.cpu_s > 0 and usage.peak_rss_bytes > 10_000_000
    assert not multiprocessing.active_children()


def test_demo_generator_process_stops_when_the_demo_side_fails(aws: AwsClients) -> None:
    resources = ensure_resources(aws, "GenProcessCancel", "GenProcessCancelStream", shards=1)
    seen: list[int] = []

    def failing(new_claims: int) -> None:
        seen.append(new_claims)
        raise KeyboardInterrupt  # what the consumer side's failure looks like to the generator: anything

    with pytest.raises(KeyboardInterrupt):
        generate_in_process(aws.endpoint_url, aws.region, resources.table_name, CONFIG, failing)
    assert len(seen) == 1 and not multiprocessing.active_children()
    written = _items(aws, resources.table_name)
    assert 0 < written < CONFIG.claims  # it stopped after at most one more wave, long before the end


def test_demo_generator_process_failure_names_the_error_not_the_data(aws: AwsClients) -> None:
    with pytest.raises(GeneratorError) as failed:
        generate_in_process(aws.endpoint_url, aws.region, "NoSuchClaimsTable", CONFIG, lambda n: None)
    message = str(failed.value)
    assert "ResourceNotFoundException" in message and " at " in message
    assert "claim_id" not in message and "patient" not in message
    assert not multiprocessing.active_children()
