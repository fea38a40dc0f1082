"""Throughput benchmark of the claim path: ``make bench`` / ``python -m claimflow.bench``.

Runs, in one process on one core, on the same deterministic set of realistic claim records (Kinesis DynamoDB
JSON, about 1.8 KB each, from ``claimflow.claims.synthetic``), record by record:

a) ClaimFlow: raw NDJSON bytes -> fused decode + validate + enrich + route -> one row JSON per record (orjson);
a2) the two-step path (``claimflow.events.decode_records`` then ``route_events``), for comparison;
b) a naive baseline: ``json.loads`` + boto3 ``TypeDeserializer`` on the images (keys, new, old) + pydantic
   ``model_validate`` of the claim model + ``json.dumps(default=str)``;
c) the floor: ``orjson.loads`` + ``orjson.dumps`` of each record, no work in between.

Each variant runs ``--repeat`` times; the best run counts (the machine is shared; the best run is the one least
disturbed). Timings are the CPU time of this single-threaded process (``time.process_time``), so records/s is per
core and other processes on the machine disturb the numbers less than they would wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import orjson

from claimflow.claims import ClaimSettings, route_records, route_records_fused
from claimflow.claims.model import ClaimModel
from claimflow.claims.synthetic import claim_records

TARGET_VS_NAIVE = 3.0
TARGET_VS_FLOOR = 0.4


def _bundle(data: bytes, settings: ClaimSettings) -> Callable[[], int]:
    def run() -> int:
        count = 0
        for routed in route_records_fused(data, settings, ingest_time_us=1):
            orjson.dumps(routed.row if routed.row is not None else routed.error)
            count += 1
        return count

    return run


def _two_step(data: bytes, settings: ClaimSettings) -> Callable[[], int]:
    def run() -> int:
        count = 0
        for routed in route_records(data, settings, ingest_time_us=1):
            orjson.dumps(routed.row if routed.row is not None else routed.error)
            count += 1
        return count

    return run


def _naive(records: list[bytes]) -> Callable[[], int]:
    # The records hold no binaries (TypeDeserializer would need B values base64-decoded first).
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()

    def run() -> int:
        for raw in records:
            record = json.loads(raw)
            change = record["dynamodb"]
            images = {
                part: {key: deserializer.deserialize(value) for key, value in change[part].items()}
                for part in ("Keys", "NewImage", "OldImage")
                if part in change
            }
            item = images["OldImage"] if record["eventName"] == "REMOVE" else images["NewImage"]
            claim = ClaimModel.model_validate(item)
            json.dumps(claim.model_dump(), default=str)
        return len(records)

    return run


def _floor(records: list[bytes]) -> Callable[[], int]:
    def run() -> int:
        for raw in records:
            orjson.dumps(orjson.loads(raw))
        return len(records)

    return run


def _measure(run: Callable[[], int], repeat: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(repeat):
        start = time.process_time()
        count = run()
        rates.append(count / (time.process_time() - start))
    return max(rates), rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claimflow.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260126)
    args = parser.parse_args(argv)

    records = list(claim_records(args.records, seed=args.seed))
    data = b"\n".join(records)
    settings = ClaimSettings()
    mean_size = statistics.mean(len(r) for r in records)
    print(f"claimflow bench: {len(records)} records, mean {mean_size:.0f} bytes, Python {platform.python_version()}")
    _bundle(data, settings)()  # warm-up: ICD code set load, caches
    _naive(records[:200])()

    variants = [
        ("a  claimflow fused (bytes -> row JSON)", _bundle(data, settings)),
        ("a2 claimflow two-step (decoder + route_events)", _two_step(data, settings)),
        ("b  naive (json + TypeDeserializer + pydantic + json.dumps)", _naive(records)),
        ("c  floor (orjson.loads + orjson.dumps)", _floor(records)),
    ]
    best: dict[str, float] = {}
    for label, run in variants:
        rate, rates = _measure(run, args.repeat)
        best[label[:2].strip()] = rate
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"{label:<62} {rate:>10,.0f} records/s  ({1e6 / rate:6.1f} us/record; runs: {runs})")
    a_b = best["a"] / best["b"]
    a_c = best["a"] / best["c"]
    print(f"a/b = {a_b:.2f} (target >= {TARGET_VS_NAIVE})   a/c = {a_c:.2f} (target >= {TARGET_VS_FLOOR})")
    print(f"a2/b = {best['a2'] / best['b']:.2f}   a2/c = {best['a2'] / best['c']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
