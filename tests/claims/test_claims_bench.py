"""The benchmark runs end to end on a few records and reports every variant, ratio and verdict (no speed asserted)."""

from __future__ import annotations

import re

import pytest

from claimflow import bench


def test_bench_reports_every_variant_and_both_targets(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--records", "30", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    labels = ("a claimflow fused", "a' claimflow fused, ConsumeKinesisStream", "a2 claimflow two-step", "b naive",
              "c floor", "n1 ProcessClaimChange as NiFi calls it", "n2 DecodeDynamoDBChange as NiFi calls it",
              "n3 TransformClaimChange as NiFi calls it")
    for label in labels:
        assert re.search(rf"\| {label}.*\| +[\d,]+ \| +[\d.]+ \| +[\d.]+ - [\d.]+ \|", out), label
    assert re.search(r"\| a/b +\| +[\d.]+ \| +>= 3.0 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a/c +\| +[\d.]+ \| +>= 0.4 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a'/b \(production\) +\| +[\d.]+ \| +>= 3.0 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| n2\+n3/c \(NiFi flow's path\) +\| +[\d.]+ \| +>= 0.5 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| n1/c \(Openflow flow's path\) +\| +[\d.]+ \| +>= 0.5 \| +(PASS|MISS) \|", out)
    assert re.search(r"\| a/c \(the core itself\) +\| +[\d.]+ \| +>= 1.0 \| +(PASS|MISS) \|", out)


def test_bench_nifi_variants_count_every_record() -> None:
    # The RecordTransform variants return one result per record across ~1 MB arrays; the decoder's content feeds n3.
    records = list(bench.claim_records(40, seed=3))
    runs = bench._variants(records, bench.ClaimSettings(), bench._nifi_processors())
    assert {name: run() for name, run in runs.items()} == dict.fromkeys(bench.LABELS, 40)


def test_production_variant_fills_the_kinesis_columns() -> None:
    # a' measures the path the flows run: the FlowFile attributes reach the rows (a many-record FlowFile of
    # ConsumeKinesisStream: the shard, no per-record sequence number).
    records = list(bench.claim_records(3, seed=5))
    attributes = {**bench.CONSUME_KINESIS_STREAM_ATTRIBUTES, "record.count": "3"}
    rows = [r.row for r in bench.route_records_fused(b"\n".join(records), bench.ClaimSettings(), 1, attributes)]
    assert [row["kinesisShardId"] if row else None for row in rows] == ["shardId-000000000001"] * 3


def test_a_variant_that_skips_records_is_refused() -> None:
    with pytest.raises(RuntimeError, match="handled 1 records, not 2"):
        bench._time_once(lambda: 1, 2)
