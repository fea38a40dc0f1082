"""The Python stages run offline exactly as a flow file wires them, and what they emit fits the flow's Record
Writer schema: rows carry exactly the claim-row columns, dead-letter records exactly the dead-letter fields."""

from __future__ import annotations

import json
import random

import pytest

from claimflow import rows
from claimflow.claims.synthetic import claim_item, kinesis_record
from claimflow.flow.definitions import DEAD_LETTER_FIELDS, NIFI_FILE, OPENFLOW_FILE, claim_row_wire_schema
from claimflow.flow.export import FLOW_DIRECTORY
from claimflow.flow.wiring import PythonStage, load_python_pipeline
from claimflow.record_routing import ROW_RELATIONSHIPS
from claimflow_offline.java import route_like_the_flows
from claimflow_offline.pipeline import Pipeline, Stage

START_US = 1_761_955_200_000_000
TEST_HMAC_KEY = "wired-records test key: synthetic data, 0123456789"


def kinesis_batch() -> list[bytes]:
    """Three good claim changes and one record that cannot become a claim (no key, unknown operation)."""
    rng = random.Random(7)
    first, second = claim_item(rng, 1), claim_item(rng, 2)
    good = [
        kinesis_record(first, "INSERT", START_US, 1),
        kinesis_record({**first, "claim_status": "PAID"}, "MODIFY", START_US + 5, 1, old_item=first),
        kinesis_record(None, "REMOVE", START_US + 9, 2, old_item=second),
    ]
    bad = {**kinesis_record(first, "INSERT", START_US + 11, 3), "eventName": "UPSERT"}
    return [json.dumps(record).encode() for record in [*good, bad]]


def offline_stage(stage: PythonStage, python_types: set[str]) -> Stage:
    routes = {}
    auto = []
    for relationship, destinations in stage.routes.items():
        first = destinations[0]
        if first.kind == "auto-terminated":
            auto.append(relationship)
        elif first.kind == "python" and first.name in python_types:
            routes[relationship] = first.name
        elif first.kind == "funnel":
            routes[relationship] = f"dead-letter from {stage.type}"
        else:  # a Java processor or a stage this test does not run (the Snowpark merge): collect its input
            routes[relationship] = f"to {first.component or first.name}"
    properties = {name: value for name, value in stage.properties.items() if value is not None}
    if "HMAC Key" in stage.properties:  # a sensitive parameter the flow leaves unset: set it, as an operator must
        properties["HMAC Key"] = TEST_HMAC_KEY
    return Stage(stage.type, properties=properties, routes=routes, auto_terminate=auto)


@pytest.mark.parametrize(
    ("file_name", "run_types"),
    [(NIFI_FILE, {"DecodeDynamoDBChange", "TransformClaimChange"}), (OPENFLOW_FILE, {"ProcessClaimChange"})],
)
def test_wired_stages_emit_records_the_writer_schema_holds(file_name: str, run_types: set[str]) -> None:
    wired = load_python_pipeline(FLOW_DIRECTORY / file_name)
    stages = [offline_stage(s, run_types) for s in wired.stages if s.type in run_types]
    with Pipeline(stages, infer_schema_like_nifi=True) as pipeline:
        # One FlowFile holding the whole batch, so the bad record is rejected per record, not per FlowFile.
        pipeline.enqueue(b"\n".join(kinesis_batch()) + b"\n")
        result = pipeline.run()
    sinks = {name: result.flowfiles(name) for s in stages for name in s.routes.values()}
    java_routed = [name for name in sinks if name == "to Partition by operation and rule"]
    if java_routed:  # Openflow: ProcessClaimChange's one output through PartitionRecord + RouteOnAttribute
        routed = route_like_the_flows(sinks[java_routed[0]])
        emitted = [r for relationship in ROW_RELATIONSHIPS for f in routed.get(relationship, []) for r in f.records()]
        dead = [r for f in routed.get("invalid", []) for r in f.records()]
        assert set(routed) <= {*ROW_RELATIONSHIPS, "invalid"}  # nothing unmatched
    else:
        row_sinks = sorted({name for s in stages for r, name in s.routes.items() if r in ROW_RELATIONSHIPS})
        emitted = [record for sink in row_sinks for record in result.records(sink)]
        (record_stage,) = [s for s in wired.stages if s.type in run_types and "Record Writer" in s.services]
        dead = result.records(f"dead-letter from {record_stage.type}")
    assert len(emitted) == 3
    assert all(list(row) == list(rows.COLUMN_NAMES) for row in emitted)
    assert len(dead) == 1
    assert set(dead[0]) == {name for name, _ in DEAD_LETTER_FIELDS}
    writer_fields = {f["name"] for f in claim_row_wire_schema()["fields"]}
    assert all(set(record) <= writer_fields for record in [*emitted, *dead])
