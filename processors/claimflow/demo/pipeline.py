"""The NiFi side of the demo: ClaimFlow's Python processors, run offline, wired as the shipped flow wires them.

The stages come from the Apache NiFi flow definition (``flow-definitions/claimflow-nifi.json``) through the SHIP
engineer's wiring reader: the same processors, properties and routes NiFi would import. What the flow sends to
the Snowflake merge processor (or to a Java Snowflake loader) is collected as claim rows and written by the demo
with ``claimflow.snowflake.SnowflakeSink`` (the same merge semantics, on the connector instead of Snowpark);
what the flow sends to its dead-letter funnel is collected as dead letters. If the flow file is missing, one
declared pipeline with the same shape is used instead, and the demo says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.demo.consumer import SEQUENCE_NUMBER, SHARD_ID, KinesisFlowFile

ROWS = "rows"
DEAD_LETTER = "dead-letter"
ROW_RELATIONSHIPS = ("insert", "modify", "remove")
PROCESSORS_IN_ORDER = ("DecodeDynamoDBChange", "TransformClaimChange")
# Processors the demo replaces by its own Snowflake writer (Snowpark cannot reach the embedded emulator).
SNOWFLAKE_STAGES = frozenset({"MergeClaimsToSnowflake"})


def default_flow_path() -> Path | None:
    """flow-definitions/claimflow-nifi.json of this checkout, when it exists."""
    try:
        from claimflow.flow.definitions import NIFI_FILE
        from claimflow.flow.export import FLOW_DIRECTORY
    except ImportError:
        return None
    path = Path(FLOW_DIRECTORY) / NIFI_FILE
    return path if path.exists() else None


@dataclass
class DeadLetter:
    stage: str
    reason: str
    position: tuple[str, str] | None = None  # (shard id, sequence number) of the Kinesis record, when known


@dataclass
class BatchOutput:
    rows: list[dict[str, Any]]
    dead_letters: list[DeadLetter]


@dataclass
class PipelineDescription:
    origin: str  # where the wiring came from
    stages: list[str]
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    properties: dict[str, dict[str, str]] = field(default_factory=dict)


def _stages_from_flow(path: Path) -> tuple[list[Any], PipelineDescription]:
    from claimflow.flow.wiring import load_python_pipeline
    from claimflow_offline.pipeline import Stage

    wired = load_python_pipeline(path)
    run = [s for s in wired.stages if s.type not in SNOWFLAKE_STAGES]
    run_types = {s.type for s in run}
    stages = []
    description = PipelineDescription(f"flow definition {path.name} ({wired.flow_name})", [s.type for s in run])
    for stage in run:
        routes: dict[str, str] = {}
        auto: list[str] = []
        for relationship, destinations in stage.routes.items():
            first = destinations[0]
            if first.kind == "auto-terminated":
                auto.append(relationship)
            elif first.kind in ("python", "self") and first.name in run_types:
                routes[relationship] = first.name
            elif first.kind == "funnel":
                routes[relationship] = DEAD_LETTER
            elif relationship in ROW_RELATIONSHIPS or first.name in SNOWFLAKE_STAGES or first.kind == "java":
                routes[relationship] = ROWS  # the Snowflake side: staging + history + merge
            else:
                routes[relationship] = DEAD_LETTER
        description.routes[stage.type] = {**routes, **dict.fromkeys(auto, "auto-terminated")}
        properties = {name: value for name, value in stage.properties.items() if value is not None}
        description.properties[stage.type] = properties
        stages.append(Stage(stage.type, properties=properties, routes=routes, auto_terminate=auto))
    return stages, description


def _declared_stages() -> tuple[list[Any], PipelineDescription]:
    from claimflow_offline.pipeline import Stage

    dead = {"invalid": DEAD_LETTER, "failure": DEAD_LETTER}
    decode_routes = {"success": "TransformClaimChange", **dead}
    transform_routes = {**dict.fromkeys(ROW_RELATIONSHIPS, ROWS), **dead}
    stages = [
        Stage("DecodeDynamoDBChange", routes=decode_routes),
        Stage("TransformClaimChange", properties={"PHI Handling": "Pass Through"}, routes=transform_routes),
    ]
    description = PipelineDescription(
        "declared pipeline (flow-definitions/claimflow-nifi.json not found)",
        list(PROCESSORS_IN_ORDER),
        {"DecodeDynamoDBChange": decode_routes, "TransformClaimChange": transform_routes},
        {"TransformClaimChange": {"PHI Handling": "Pass Through"}},
    )
    return stages, description


class ClaimPipeline:
    """Runs batches of Kinesis FlowFiles through the processors; returns claim rows and dead letters."""

    def __init__(self, flow_path: Path | None = None) -> None:
        from claimflow_offline import install_standin

        install_standin()
        from claimflow_offline.pipeline import Pipeline

        path = flow_path if flow_path is not None else default_flow_path()
        stages, self.description = _stages_from_flow(path) if path else _declared_stages()
        self._pipeline = Pipeline(stages, infer_schema_like_nifi=True)
        self.routed: Counter[str] = Counter()

    def process(self, flowfiles: Sequence[KinesisFlowFile]) -> BatchOutput:
        for flowfile in flowfiles:
            self._pipeline.enqueue(flowfile.content, flowfile.attributes)
        self._pipeline.run()
        rows = [record for f in self._pipeline.drain(ROWS) for record in f.records()]
        dead = list(_dead_letters(self._pipeline.drain(DEAD_LETTER)))
        for stage, relationships in self._pipeline.routed.items():
            for relationship, count in relationships.items():
                self.routed[f"{stage}.{relationship}"] += count
            relationships.clear()
        return BatchOutput(rows, dead)

    def close(self) -> None:
        self._pipeline.close()


def _dead_letters(flowfiles: Iterable[Any]) -> Iterable[DeadLetter]:
    for flowfile in flowfiles:
        stage = flowfile.attributes.get("claimflow.stage", "")
        shard, sequence = flowfile.attributes.get(SHARD_ID), flowfile.attributes.get(SEQUENCE_NUMBER)
        position = (shard, sequence) if shard and sequence else None
        try:
            records = flowfile.records()
        except Exception:
            records = []
        with_errors = [r for r in records if isinstance(r, dict) and r.get("error")]
        if with_errors:
            for record in with_errors:
                yield DeadLetter(stage, str(record["error"]), position)
        else:
            yield DeadLetter(stage, flowfile.attributes.get("cdc.error") or "routed to failure", position)
