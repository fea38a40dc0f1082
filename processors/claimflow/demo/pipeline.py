"""The NiFi side of the demo: ClaimFlow's Python processors, run offline, wired as the shipped flow wires them.

The stages come from the Apache NiFi flow definition (``flow-definitions/claimflow-nifi.json``) through the SHIP
engineer's wiring reader: the same processors, properties and routes NiFi would import. What the flow sends to
the Snowflake merge processor (or to a Java Snowflake loader) is collected as claim rows and written by the demo
with ``claimflow.snowflake.SnowflakeSink`` (the same merge semantics, on the connector instead of Snowpark);
what the flow sends to its dead-letter funnel is collected as dead letters. If the flow file is missing, one
declared pipeline with the same shape is used instead, and the demo says so.

PHI: the shipped flows pseudonymise by default and leave the sensitive ``HMAC Key`` parameter unset (an operator
must set it). The demo supplies a demo-only key instead: generated for each run (``secrets.token_urlsafe``), held
in memory only, never printed or written, unless the caller gives its own. ``phi_handling`` overrides the flow's
PHI Handling (the demo's ``--pass-through``).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.claims import ClaimSettings, PhiMode
from claimflow.claims.settings import KEYED_MODES
from claimflow.demo.consumer import SEQUENCE_NUMBER, SHARD_ID, KinesisFlowFile
from claimflow.record_routing import (
    ACCEPTED_PHI_HANDLING,
    GENERALIZE_BIRTH_DATE,
    GENERALIZE_ZIP,
    HMAC_KEY,
    PHI_HANDLING,
    ROW_RELATIONSHIPS,
    STRICT_VALIDATION,
    claim_settings_from_properties,
)

ROWS = "rows"
DEAD_LETTER = "dead-letter"
# Where a claim processor's success goes in both flows: PartitionRecord + RouteOnAttribute (Java), which the demo
# runs as the offline models of claimflow_offline.java.
JAVA_ROUTING = "java-routing"
JAVA_ROUTING_LABEL = "PartitionRecord + RouteOnAttribute (offline models)"
PARTITION_RECORD = "PartitionRecord"
PROCESSORS_IN_ORDER = ("DecodeDynamoDBChange", "TransformClaimChange")
# Processors the demo replaces by its own Snowflake writer (Snowpark cannot reach the embedded emulator).
SNOWFLAKE_STAGES = frozenset({"MergeClaimsToSnowflake"})
PASS_THROUGH = "Pass Through"
PSEUDONYMIZE = "Pseudonymize"
# What the reconciliation can recompute: Safe Harbor tokenises the claim id and event id it matches by.
DEMO_PHI_MODES = frozenset({PhiMode.PASSTHROUGH, PhiMode.PSEUDONYMIZE})


class DemoKey(str):
    """An HMAC key the demo hands to the processors. Its repr never shows it, so a Stage's repr, a traceback or a
    debugger does not print the key."""

    def __repr__(self) -> str:
        return "<HMAC key, not shown>"


def demo_key() -> DemoKey:
    """A demo-only HMAC key: 48 random bytes, URL-safe base64 (64 characters), new for each run."""
    return DemoKey(secrets.token_urlsafe(48))


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
    properties: dict[str, dict[str, str]] = field(default_factory=dict)  # as run, without the HMAC key
    phi: str = ""  # PHI Handling as run, and where the HMAC key came from (never the key)


def _keyed(handling: str | None) -> bool:
    return handling is not None and ACCEPTED_PHI_HANDLING.get(handling) in KEYED_MODES


def _as_run(properties: Mapping[str, str | None], phi_handling: str | None, key: DemoKey) -> dict[str, str]:
    """A stage's properties as the demo runs them: PHI Handling overridden when asked, the HMAC key (a sensitive
    parameter the flow leaves unset) supplied when the mode needs one; other unset properties left to the
    processor's default."""
    resolved = dict(properties)
    if PHI_HANDLING in resolved and phi_handling is not None:
        resolved[PHI_HANDLING] = phi_handling
    if HMAC_KEY in resolved and _keyed(resolved.get(PHI_HANDLING)):
        resolved[HMAC_KEY] = key
    return {name: value for name, value in resolved.items() if value is not None}


def _described(properties: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in properties.items() if name != HMAC_KEY}


def _stages_from_flow(
    path: Path, phi_handling: str | None, key: DemoKey
) -> tuple[list[Any], PipelineDescription]:
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
            elif first.kind == "java" and first.name == PARTITION_RECORD:
                routes[relationship] = JAVA_ROUTING
            elif relationship in ROW_RELATIONSHIPS or first.name in SNOWFLAKE_STAGES or first.kind == "java":
                routes[relationship] = ROWS  # the Snowflake side: staging + history + merge
            else:
                routes[relationship] = DEAD_LETTER
        description.routes[stage.type] = {**routes, **dict.fromkeys(auto, "auto-terminated")}
        properties = _as_run(stage.properties, phi_handling, key)
        description.properties[stage.type] = _described(properties)
        stages.append(Stage(stage.type, properties=properties, routes=routes, auto_terminate=auto))
    if JAVA_ROUTING in {route for stage in stages for route in stage.routes.values()}:
        stages.append(_java_routing())
        description.routes[JAVA_ROUTING] = dict(stages[-1].routes)
        description.stages.append(JAVA_ROUTING_LABEL)
    return stages, description


def _java_routing() -> Any:
    """The PartitionRecord + RouteOnAttribute after the claim processor: rows to the Snowflake side, dead letters
    (and ``unmatched``, which no line reaches) to the dead letter."""
    from claimflow_offline.pipeline import JavaRouting

    return JavaRouting(name=JAVA_ROUTING, routes={**dict.fromkeys(ROW_RELATIONSHIPS, ROWS), "invalid": DEAD_LETTER,
                                           "unmatched": DEAD_LETTER})


def _declared_stages(phi_handling: str | None, key: DemoKey) -> tuple[list[Any], PipelineDescription]:
    from claimflow_offline.pipeline import Stage

    dead = {"invalid": DEAD_LETTER, "failure": DEAD_LETTER}
    decode_routes = {"success": "TransformClaimChange", **dead}
    transform_routes = {"success": JAVA_ROUTING, "failure": DEAD_LETTER}
    # The shipped flows' secure default (claimflow.flow.definitions.SECURE_DEFAULTS), key unset as there.
    transform = _as_run({PHI_HANDLING: PSEUDONYMIZE, HMAC_KEY: None}, phi_handling, key)
    stages = [
        Stage("DecodeDynamoDBChange", routes=decode_routes),
        Stage("TransformClaimChange", properties=transform, routes=transform_routes),
        _java_routing(),
    ]
    description = PipelineDescription(
        "declared pipeline (flow-definitions/claimflow-nifi.json not found)",
        [*PROCESSORS_IN_ORDER, JAVA_ROUTING_LABEL],
        {"DecodeDynamoDBChange": decode_routes, "TransformClaimChange": transform_routes,
         JAVA_ROUTING: dict(stages[-1].routes)},
        {"TransformClaimChange": _described(transform)},
    )
    return stages, description


class ClaimPipeline:
    """Runs batches of Kinesis FlowFiles through the processors; returns claim rows and dead letters.

    ``phi_handling``: a PHI Handling label ("Pass Through", "Pseudonymize") instead of the flow's own.
    ``hmac_key``: the key for a keyed mode; None: a demo-only key generated for this pipeline.

    Raises:
        ValueError: an unknown PHI Handling label, a short or low-variety key (the message never shows it), or a
            mode the demo's reconciliation cannot recompute (Safe Harbor).
    """

    def __init__(
        self, flow_path: Path | None = None, *, phi_handling: str | None = None, hmac_key: str | None = None
    ) -> None:
        from claimflow_offline import install_standin

        install_standin()
        from claimflow_offline.pipeline import Pipeline

        if phi_handling is not None and phi_handling not in ACCEPTED_PHI_HANDLING:
            raise ValueError(f"PHI Handling must be one of {', '.join(ACCEPTED_PHI_HANDLING)}")
        key = DemoKey(hmac_key) if hmac_key else demo_key()
        path = flow_path if flow_path is not None else default_flow_path()
        stages, self.description = (
            _stages_from_flow(path, phi_handling, key) if path else _declared_stages(phi_handling, key)
        )
        self._key = key
        settings = self.claim_settings()  # before any processor runs: a weak key or bad label stops here
        if settings.phi_mode not in DEMO_PHI_MODES:
            raise ValueError(f"the demo reconciles PHI Handling {PASS_THROUGH} or {PSEUDONYMIZE} only")
        handling = self._property(PHI_HANDLING) or PASS_THROUGH
        if settings.phi_mode is PhiMode.PSEUDONYMIZE:
            origin = "given by the caller" if hmac_key else "demo-only, generated for this run, not shown or kept"
            self.description.phi = f"{handling} (HMAC key: {origin})"
        else:
            self.description.phi = f"{handling} (identifiers as written: synthetic data only)"
        self._pipeline = Pipeline(stages, infer_schema_like_nifi=True)
        self.routed: Counter[str] = Counter()

    def _property(self, name: str) -> str | None:
        for properties in self.description.properties.values():
            if name in properties:
                return properties[name]
        return None

    def claim_settings(self) -> ClaimSettings:
        """The row-building settings the claim processor runs with (the processors' own property parsing), for
        the reconciliation's expected rows. Holds the HMAC key: never print more than its repr."""
        handling = self._property(PHI_HANDLING)
        return claim_settings_from_properties(
            handling,
            self._key if _keyed(handling) else None,
            self._property(GENERALIZE_ZIP),
            self._property(GENERALIZE_BIRTH_DATE),
            self._property(STRICT_VALIDATION),
        )

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
