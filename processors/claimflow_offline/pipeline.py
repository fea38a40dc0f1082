"""Chain processors by relationship offline: the Python stages of a ClaimFlow flow, without NiFi.

Each stage is one processor (a :class:`~claimflow_offline.runner.TestRunner` underneath) with its properties and
a route per relationship: the name of a later or earlier stage (its FlowFiles are queued there, attributes
carried over as on a NiFi connection) or a sink name (its FlowFiles are collected). As in NiFi, every
relationship must be routed or auto-terminated: an unrouted relationship makes the pipeline invalid, so a
``failure`` or ``invalid`` output can never vanish silently. ``original`` is auto-terminated unless routed.

A :class:`JavaRouting` stage stands for the PartitionRecord + RouteOnAttribute pair both flows put after a claim
processor (the offline models of ``claimflow_offline.java``), with a route per RouteOnAttribute relationship.

Example::

    with Pipeline([
        Stage("DecodeDynamoDBChange", routes={"success": "TransformClaimChange", "invalid": "dead-letter",
                                              "failure": "dead-letter"}),
        Stage("TransformClaimChange", properties={"PHI Handling": "Pass Through"},
              routes={"success": "Java routing", "failure": "dead-letter"}),
        JavaRouting(routes={"insert": "rows", "modify": "rows", "remove": "rows",
                            "invalid": "dead-letter", "unmatched": "dead-letter"}),
    ]) as pipeline:
        pipeline.enqueue(kinesis_bytes, {"aws.kinesis.shard.id": "shardId-000000000000"})
        result = pipeline.run()
        rows = result.records("rows")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claimflow.record_routing import ROUTED_RELATIONSHIPS
from claimflow_offline.java import route_like_the_flows
from claimflow_offline.runner import REL_ORIGINAL, MockFlowFile, TestRunner


@dataclass
class Stage:
    """One processor in a pipeline.

    Args:
        processor: a processor class, a path to its file, or the bare name of a ClaimFlow processor.
        properties: property name -> value.
        routes: relationship name -> stage name or sink name.
        auto_terminate: relationships deliberately dropped (NiFi's "automatically terminate").
        name: the stage name used in routes (default: the processor's class or file name).
        runner_options: extra TestRunner keyword arguments for this stage, e.g. ``record_writer_schema`` and
            ``suppress_missing`` to mirror the flow's Record Writer.
    """

    processor: type | str | Path
    properties: Mapping[str, str] = field(default_factory=dict)
    routes: Mapping[str, str] = field(default_factory=dict)
    auto_terminate: Iterable[str] = ()
    name: str | None = None
    runner_options: Mapping[str, Any] = field(default_factory=dict)

    def stage_name(self) -> str:
        if self.name:
            return self.name
        if isinstance(self.processor, type):
            return self.processor.__name__
        return Path(str(self.processor)).stem


@dataclass
class JavaRouting:
    """PartitionRecord then RouteOnAttribute, as both flows configure them after a claim processor.

    Args:
        routes: RouteOnAttribute relationship (insert, modify, remove, invalid, unmatched) -> stage or sink name;
            every one must be routed.
        name: the stage name other stages route to.
    """

    routes: Mapping[str, str] = field(default_factory=dict)
    name: str = "Java routing"

    RELATIONSHIPS = ROUTED_RELATIONSHIPS

    def stage_name(self) -> str:
        return self.name


class PipelineConfigurationError(ValueError):
    """A stage is invalid or a relationship is neither routed nor auto-terminated."""


@dataclass
class PipelineResult:
    """What reached each sink, and how many FlowFiles each stage routed to each relationship."""

    sinks: dict[str, list[MockFlowFile]]
    routed: dict[str, dict[str, int]]

    def flowfiles(self, sink: str) -> list[MockFlowFile]:
        return list(self.sinks.get(sink, []))

    def records(self, sink: str) -> list[dict[str, Any]]:
        """Every JSON record in every FlowFile of ``sink``, in arrival order."""
        return [record for flowfile in self.sinks.get(sink, []) for record in flowfile.records()]


class Pipeline:
    """Runs stages in order, repeatedly, until no FlowFile is queued anywhere.

    ``onScheduled`` runs once per stage at the first ``run``; ``close()`` (or leaving a ``with`` block) calls
    ``onStopped``. Sinks accumulate across runs until ``drain()``.

    ``infer_schema_like_nifi``, ``record_writer_schema`` and ``suppress_missing`` are TestRunner options applied to
    every stage (a stage's ``runner_options`` win); the writer options only affect RecordTransform stages. Mirror
    the flow: ``record_writer_schema=claimflow.flow.definitions.claim_row_wire_schema(), suppress_missing=True``.

    Raises:
        PipelineConfigurationError: at construction, for duplicate stage names, invalid processors or
            relationships without a route.
    """

    def __init__(
        self,
        stages: Sequence[Stage | JavaRouting | tuple[Any, ...]],
        *,
        infer_schema_like_nifi: bool = False,
        record_writer_schema: Mapping[str, Any] | str | None = None,
        suppress_missing: bool = False,
    ) -> None:
        self.stages: list[Stage] = []
        self.routings: dict[str, JavaRouting] = {}
        self.java_queues: dict[str, list[MockFlowFile]] = {}
        for given in stages:
            if isinstance(given, JavaRouting):
                if given.name in self.routings:
                    raise PipelineConfigurationError(f"two stages are named {given.name!r}; give one a name=")
                self.routings[given.name] = given
                self.java_queues[given.name] = []
            else:
                self.stages.append(given if isinstance(given, Stage) else Stage(*given))
        self.runners: dict[str, TestRunner] = {}
        for stage in self.stages:
            name = stage.stage_name()
            if name in self.runners or name in self.routings:
                raise PipelineConfigurationError(f"two stages are named {name!r}; give one a name=")
            options = {
                "infer_schema_like_nifi": infer_schema_like_nifi,
                "record_writer_schema": record_writer_schema,
                "suppress_missing": suppress_missing,
                **stage.runner_options,
            }
            runner = TestRunner(stage.processor, **options)
            for key, value in stage.properties.items():
                runner.set_property(key, value)
            self.runners[name] = runner
        self._check()
        self.sinks: dict[str, list[MockFlowFile]] = {}
        self.routed: dict[str, dict[str, int]] = {name: {} for name in [*self.runners, *self.routings]}
        self._started = False

    def _check(self) -> None:
        problems: list[str] = []
        for stage in self.stages:
            name = stage.stage_name()
            runner = self.runners[name]
            problems += [f"{name}: {p.subject}: {p.explanation}" for p in runner.validate()]
            relationships = runner.relationships()
            dropped = set(stage.auto_terminate)
            for relationship in relationships.values():
                routed = relationship.name in stage.routes or relationship.name in dropped
                if not routed and not relationship.auto_terminated:
                    problems.append(f"{name}: relationship {relationship.name!r} is neither routed nor auto-terminated")
            for relationship in [*stage.routes, *dropped]:
                if relationship not in relationships:
                    problems.append(f"{name}: has no relationship {relationship!r}")
            for relationship in relationships.values():
                runner.set_auto_terminated(relationship.name, relationship.name not in stage.routes)
        for name, routing in self.routings.items():
            unrouted = [r for r in JavaRouting.RELATIONSHIPS if r not in routing.routes]
            unknown = [r for r in routing.routes if r not in JavaRouting.RELATIONSHIPS]
            problems += [f"{name}: relationship {r!r} is not routed" for r in unrouted]
            problems += [f"{name}: has no relationship {r!r}" for r in unknown]
        if problems:
            raise PipelineConfigurationError("; ".join(problems))

    def enqueue(
        self, content: bytes | str, attributes: Mapping[str, str] | None = None, stage: str | None = None
    ) -> None:
        """Queue a FlowFile at ``stage`` (default: the first processor stage)."""
        name = stage or self.stages[0].stage_name()
        if name in self.java_queues:
            self.java_queues[name].append(MockFlowFile(content.encode() if isinstance(content, str) else content,
                                                       attributes))
        else:
            self.runners[name].enqueue(content, attributes)

    def run(self) -> PipelineResult:
        """Push every queued FlowFile through to the sinks; returns everything collected so far."""
        if not self._started:
            for runner in self.runners.values():
                runner.schedule()
            self._started = True
        while any(runner.queue_size for runner in self.runners.values()) or any(self.java_queues.values()):
            for stage in self.stages:
                name = stage.stage_name()
                runner = self.runners[name]
                while runner.queue_size:
                    runner.run(1, stop_on_finish=False, initialize=False)
                    self._forward(stage, runner)
            for name, routing in self.routings.items():
                queued, self.java_queues[name] = self.java_queues[name], []
                for relationship, flowfiles in route_like_the_flows(queued).items():
                    self.routed[name][relationship] = self.routed[name].get(relationship, 0) + len(flowfiles)
                    self._deliver(routing.routes[relationship], flowfiles)
        return PipelineResult({k: list(v) for k, v in self.sinks.items()}, {k: dict(v) for k, v in self.routed.items()})

    def _forward(self, stage: Stage, runner: TestRunner) -> None:
        name = stage.stage_name()
        for relationship, count in runner.transferred_counts().items():
            self.routed[name][relationship] = self.routed[name].get(relationship, 0) + count
            destination = stage.routes.get(relationship)
            flowfiles = runner.get_flowfiles_for(relationship)
            if destination is None:
                continue  # auto-terminated (original by default)
            self._deliver(destination, flowfiles)
        runner.clear_transfer_state()

    def _deliver(self, destination: str, flowfiles: list[MockFlowFile]) -> None:
        if destination in self.runners:
            for flowfile in flowfiles:  # a connection moves the same FlowFile: uuid and all attributes
                self.runners[destination].enqueue(flowfile.content, flowfile.attributes)
        elif destination in self.java_queues:
            self.java_queues[destination].extend(flowfiles)
        else:
            self.sinks.setdefault(destination, []).extend(flowfiles)

    def drain(self, sink: str) -> list[MockFlowFile]:
        """Take (and forget) what reached ``sink``."""
        return self.sinks.pop(sink, [])

    def log_text(self) -> str:
        return "\n".join(runner.log_text() for runner in self.runners.values())

    def close(self) -> None:
        for runner in self.runners.values():
            runner.stop()
        self._started = False

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["REL_ORIGINAL", "JavaRouting", "Pipeline", "PipelineConfigurationError", "PipelineResult", "Stage"]
