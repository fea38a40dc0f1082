"""ClaimFlow's processors running in a real NiFi, compared record by record with the offline runtime.

One flow per module: GetFile -> ProcessClaimChange -> PartitionRecord -> RouteOnAttribute (configured as the
Openflow flow configures them), and GetFile -> DecodeDynamoDBChange -> TransformClaimChange, with the flow
definition's reader and writer; every relationship ends in a connection to a funnel with no way out, so its
FlowFiles wait there to be read over the REST API. ProcessClaimChange's outputs are what RouteOnAttribute routes,
compared with the offline model of the two Java processors (claimflow_offline.java). Each case is one FlowFile.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from claimflow.flow import platform as pf
from claimflow.flow.definitions import claim_row_wire_schema_text
from claimflow.flow.pyprocessors import PROCESSOR_FOLDER, read_processors
from claimflow.record_routing import PARTITION_PATHS, ROUTED_RELATIONSHIPS, ROUTES

from .cases import (
    ROW_RELATIONSHIPS,
    cases,
    comparable_dead_letter,
    comparable_row,
    offline,
    own_attributes,
    phi_in,
    throughput_content,
)
from .conftest import report
from .nifi import NiFi

CLAIM_PROCESSORS = ("ProcessClaimChange", "TransformClaimChange")
ALL_PROCESSORS = ("ProcessClaimChange", "DecodeDynamoDBChange", "TransformClaimChange")
# After each claim processor, as in both flows.
JAVA_ROUTING = tuple(f"{java} after {claims}" for claims in CLAIM_PROCESSORS for java in ("PartitionRecord",
                                                                                          "RouteOnAttribute"))
OWN_PROPERTIES = {"ProcessClaimChange": 7, "TransformClaimChange": 5, "DecodeDynamoDBChange": 2}


@dataclass
class ClaimFlowGroup:
    nifi: NiFi
    group: str
    inboxes: dict[str, Path]  # GetFile input folder per entry processor
    getfiles: dict[str, str]
    processors: dict[str, str]
    relationships: dict[str, list[str]] = field(default_factory=dict)  # as the created processors show them
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)  # (processor, relationship) -> connection
    inputs: list[str] = field(default_factory=list)  # connections into the ClaimFlow processors
    services: dict[str, str] = field(default_factory=dict)  # the flow's Record Reader and Record Writer

    def run(self, content: bytes, timeout: float = 300) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """Send ``content`` as one FlowFile into both paths; every output FlowFile per processor and relationship."""
        for entry in self.inboxes:
            self.deliver(entry, content)
        self.settle(timeout)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for (processor, relationship), connection in self.outputs.items():
            items = self.nifi.list_queue(connection)
            if items:
                results.setdefault(processor, {})[relationship] = items
            self.drop(connection)
        return results

    def deliver(self, entry: str, content: bytes) -> None:
        """One FlowFile of ``content`` into ``entry``'s GetFile. The file is dated 10 s back: GetFile skips a file
        whose modification time is ahead of Java's clock (file-system time is coarser), which a fresh file can be."""
        staged = self.inboxes[entry] / ".staged.tmp"
        staged.write_bytes(content)
        past = time.time() - 10
        os.utime(staged, (past, past))
        staged.rename(self.inboxes[entry] / f"flowfile-{time.monotonic_ns()}.json")
        self.nifi.set_state(self.getfiles[entry], "RUN_ONCE")

    def settle(self, timeout: float) -> float:
        """Until the inboxes are read, nothing waits for a ClaimFlow processor, none is busy, and the outputs stay
        put for three polls; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        stable, last = 0, None
        while time.monotonic() < deadline:
            flow = self.nifi.api("GET", f"/flow/process-groups/{self.group}")["processGroupFlow"]["flow"]
            queued = {c["id"]: c["status"]["aggregateSnapshot"]["flowFilesQueued"] for c in flow["connections"]}
            busy = any(p["status"]["aggregateSnapshot"].get("activeThreadCount", 0) for p in flow["processors"])
            waiting = any(queued.get(c, 0) for c in self.inputs) or any(any(i.iterdir()) for i in self.inboxes.values())
            snapshot = tuple(sorted(queued.items()))
            if not busy and not waiting and snapshot == last:
                stable += 1
                if stable >= 3:
                    return time.monotonic() - started
            else:
                stable = 0
            last = snapshot
            time.sleep(0.5)
        raise TimeoutError(f"the flow did not settle in {timeout}s: queued {queued}")

    def task_nanos(self, name: str) -> int:
        """The time NiFi counts a processor's tasks as running (its status, last five minutes)."""
        status = self.nifi.api("GET", f"/flow/processors/{self.processors[name]}/status")["processorStatus"]
        return int(status["aggregateSnapshot"].get("tasksDurationNanos", 0))

    def drop(self, connection: str) -> None:
        request = self.nifi.api("POST", f"/flowfile-queues/{connection}/drop-requests")["dropRequest"]
        path = f"/flowfile-queues/{connection}/drop-requests/{request['id']}"
        self.nifi.wait_for("a queue drop", lambda: self.nifi.api("GET", path)["dropRequest"]["finished"], 60, 0.3)
        self.nifi.api("DELETE", path)


@pytest.fixture(scope="module")
def flow(nifi: NiFi, tmp_path_factory: pytest.TempPathFactory) -> ClaimFlowGroup:
    group = nifi.create_group(nifi.root_id(), "claimflow-it-processors")
    writer = nifi.create_service(group, "org.apache.nifi.json.JsonRecordSetWriter", "Claim Row Writer", {
        "Schema Access Strategy": "schema-text-property", "Schema Text": claim_row_wire_schema_text(),
        "Schema Write Strategy": "no-schema", "Suppress Null Values": "suppress-missing"})
    routed_reader = nifi.create_service(group, "org.apache.nifi.json.JsonTreeReader", "Routed Row Reader", {
        "Schema Access Strategy": "schema-text-property", "Schema Text": claim_row_wire_schema_text()})
    for service in (writer, routed_reader):
        nifi.enable_service(service)
    bundles = {t["type"]: t["bundle"] for t in nifi.processor_types()}
    processors = {name: nifi.create_processor(group, name, bundles[name], name) for name in ALL_PROCESSORS}
    started = time.monotonic()
    loaded = {name: nifi.wait_loaded(pid, OWN_PROPERTIES[name]) for name, pid in processors.items()}
    report("python_processors_loaded_s", round(time.monotonic() - started, 1))
    for name in ALL_PROCESSORS:
        nifi.update_processor(processors[name], auto_terminate=["original"])
    routing = {}  # claim processor -> (PartitionRecord, RouteOnAttribute), configured as the flows configure them
    for claims in CLAIM_PROCESSORS:
        routing[claims] = (
            nifi.create_processor(
                group, pf.PARTITION_RECORD.type, nifi.type_bundle(pf.PARTITION_RECORD.type),
                f"PartitionRecord after {claims}",
                {"Record Reader": routed_reader, "Record Writer": writer, **PARTITION_PATHS},
                auto_terminate=["original"]),
            nifi.create_processor(
                group, pf.ROUTE_ON_ATTRIBUTE.type, nifi.type_bundle(pf.ROUTE_ON_ATTRIBUTE.type),
                f"RouteOnAttribute after {claims}", {"Routing Strategy": pf.ROUTE_TO_PROPERTY_NAME, **ROUTES}),
        )
    record_services = {"Routed Row Reader": routed_reader, "Record Writer": writer}
    harness = ClaimFlowGroup(nifi, group, {}, {}, processors, services=record_services)
    get_file = nifi.type_bundle("org.apache.nifi.processors.standard.GetFile")
    for entry in ("ProcessClaimChange", "DecodeDynamoDBChange"):
        inbox = tmp_path_factory.mktemp(f"inbox-{entry}")
        harness.inboxes[entry] = inbox
        harness.getfiles[entry] = nifi.create_processor(
            group, "org.apache.nifi.processors.standard.GetFile", get_file, f"GetFile {entry}",
            {"Input Directory": str(inbox), "Keep Source File": "false", "Polling Interval": "0 sec"},
            schedule="1 day")
        harness.inputs.append(nifi.connect(group, harness.getfiles[entry], processors[entry], ["success"]))
    harness.inputs.append(nifi.connect(group, processors["DecodeDynamoDBChange"],
                                       processors["TransformClaimChange"], ["success"]))
    for claims, (partition, route) in routing.items():
        harness.inputs.append(nifi.connect(group, processors[claims], partition, ["success"]))
        harness.inputs.append(nifi.connect(group, partition, route, ["success"]))
    funnel = nifi.create_funnel(group)
    harness.relationships = {name: sorted(r["name"] for r in c["relationships"]) for name, c in loaded.items()}
    for name, component in loaded.items():
        for relationship in (r["name"] for r in component["relationships"]):
            if relationship != "original" and not (name in routing and relationship == "success"):
                harness.outputs[(name, relationship)] = nifi.connect(
                    group, processors[name], funnel, [relationship], destination_type="FUNNEL")
    # What RouteOnAttribute routes counts as the claim processor's output (the flows' per-record routes).
    for claims, (partition, route) in routing.items():
        for relationship in ROUTED_RELATIONSHIPS:
            harness.outputs[(claims, relationship)] = nifi.connect(
                group, route, funnel, [relationship], destination_type="FUNNEL")
        harness.outputs[(f"PartitionRecord after {claims}", "failure")] = nifi.connect(
            group, partition, funnel, ["failure"], destination_type="FUNNEL")
        processors |= {f"PartitionRecord after {claims}": partition, f"RouteOnAttribute after {claims}": route}
    for name, pid in processors.items():
        component = nifi.wait_for(f"{name} to validate", lambda pid=pid: (
            lambda c: c if c["validationStatus"] != "VALIDATING" else None)(nifi.processor(pid)), 120)
        assert component["validationStatus"] == "VALID", (name, component.get("validationErrors"))
        nifi.set_state(pid, "RUNNING")
    return harness


def test_it_nifi_created_processors_have_their_own_relationships(flow: ClaimFlowGroup) -> None:
    specs = read_processors(PROCESSOR_FOLDER)
    assert flow.relationships == {name: sorted(specs[name].relationships) for name in ALL_PROCESSORS}


@pytest.fixture(scope="module")
def outcomes(flow: ClaimFlowGroup) -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """Every case through NiFi, with the bulletins each raised."""
    seen = {b.get("id") for b in flow.nifi.bulletins()}
    results = {}
    for name, content in cases().items():
        results[name] = flow.run(content)
        fresh = [b for b in flow.nifi.bulletins() if b.get("id") not in seen]
        seen |= {b.get("id") for b in fresh}
        results[name]["bulletins"] = {"all": fresh}  # type: ignore[dict-item]
    return results


def _records(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        parsed = json.loads(item["content"])
        out.extend(parsed if isinstance(parsed, list) else [parsed])
    return out


def _offline_input(name: str, content: bytes) -> tuple[bytes, dict[str, str] | None]:
    if name != "TransformClaimChange":
        return content, None
    decoded = offline("DecodeDynamoDBChange", content)
    (out,) = decoded.get_flowfiles_for("success") + decoded.get_flowfiles_for("invalid")
    return out.content, out.attributes


@pytest.mark.parametrize("case", sorted(cases()))
@pytest.mark.parametrize("processor", ALL_PROCESSORS)
def test_it_nifi_counts_and_records_equal_the_offline_runtime(outcomes: dict, processor: str, case: str) -> None:
    content = cases()[case]
    real = outcomes[case].get(processor, {})
    assert not [name for name in outcomes[case] if name.startswith("PartitionRecord")]  # its failure queues stay empty
    if processor == "TransformClaimChange" and "success" not in outcomes[case].get("DecodeDynamoDBChange", {}):
        assert real == {}  # the decoder sent nothing on
        return
    runner = offline(processor, *_offline_input(processor, content))
    expected = {rel: runner.get_flowfiles_for(rel) for rel in runner.relationships() if rel != "original"}
    expected = {rel: flowfiles for rel, flowfiles in expected.items() if flowfiles}
    assert {rel: len(items) for rel, items in real.items()} == {rel: len(f) for rel, f in expected.items()}
    for relationship, flowfiles in expected.items():
        if relationship == "failure" or processor == "DecodeDynamoDBChange":
            assert [i["content"] for i in real[relationship]] == [f.content for f in flowfiles], relationship
            continue
        real_records = _records(real[relationship])
        offline_records = [r for f in flowfiles for r in f.records()]
        if relationship == "invalid":
            assert sorted(map(comparable_dead_letter, real_records), key=lambda r: r["index"]) == sorted(
                map(comparable_dead_letter, offline_records), key=lambda r: r["index"])
        else:
            assert [comparable_row(r) for r in real_records] == [comparable_row(r) for r in offline_records]


@pytest.mark.parametrize("case", sorted(cases()))
@pytest.mark.parametrize("processor", ALL_PROCESSORS)
def test_it_nifi_attributes_equal_the_offline_runtime_and_hold_no_phi(
    outcomes: dict, processor: str, case: str
) -> None:
    real = outcomes[case].get(processor, {})
    if not real:  # nothing reached it (the decoder sent nothing on): the counts test holds that against offline
        assert processor == "TransformClaimChange" and "success" not in outcomes[case]["DecodeDynamoDBChange"]
        return
    runner = offline(processor, *_offline_input(processor, cases()[case]))
    for relationship, items in real.items():
        real_attributes = sorted((own_attributes(i["attributes"]) for i in items), key=json.dumps)
        expected = sorted((own_attributes(f.attributes) for f in runner.get_flowfiles_for(relationship)),
                          key=json.dumps)
        if relationship != "failure":  # NiFi's failure FlowFile keeps GetFile's attributes; compared below
            assert real_attributes == expected, relationship
        for attributes in real_attributes:
            assert phi_in(json.dumps(attributes)) == []
            if relationship in ROW_RELATIONSHIPS or relationship == "success":
                assert not attributes.get("cdc.error"), (relationship, attributes.get("cdc.error"))


def test_it_nifi_bad_records_raise_no_bulletins(outcomes: dict, flow: ClaimFlowGroup) -> None:
    ours = set(flow.processors.values())
    for case, result in outcomes.items():
        from_claimflow = [b for b in result["bulletins"]["all"] if b.get("sourceId") in ours]
        # Also for malformed content: ProcessClaimChange frames it itself (it no longer has a record reader to
        # fail the FlowFile), so the torn record is a dead letter like any other.
        assert from_claimflow == [], case
        assert phi_in(json.dumps(result["bulletins"]["all"])) == []


def test_it_nifi_python_side_never_failed(flow: ClaimFlowGroup, outcomes: dict) -> None:
    log = flow.nifi.app_log()
    assert "Py4JException" not in log and "does not exist" not in log
    assert phi_in(log) == []


def test_it_nifi_throughput_of_ten_thousand_records(flow: ClaimFlowGroup, outcomes: dict) -> None:
    """Records/s through the real processors for one FlowFile of 10,000 records (reported, not asserted)."""
    content = throughput_content()
    measured = {}
    for entry in ("ProcessClaimChange", "DecodeDynamoDBChange"):
        others = {e: p for e, p in flow.inboxes.items() if e != entry}
        before = {name: flow.task_nanos(name) for name in (*ALL_PROCESSORS, *JAVA_ROUTING)}
        started = time.monotonic()
        flow.deliver(entry, content)
        seconds = flow.settle(600) - 1.5  # settle waits three stable polls of 0.5 s
        wall = time.monotonic() - started
        assert not any(any(p.iterdir()) for p in others.values())
        last = "ProcessClaimChange" if entry == "ProcessClaimChange" else "TransformClaimChange"
        landed = 0
        for (processor, relationship), connection in flow.outputs.items():
            if processor == last and relationship != "failure":
                landed += sum(int(i["attributes"]["record.count"])
                              for i in flow.nifi.list_queue(connection, content=False))
            flow.drop(connection)
        path = "ProcessClaimChange" if entry == "ProcessClaimChange" else "Decode -> Transform"
        busy = {name: round((flow.task_nanos(name) - before[name]) / 1e9, 2) for name in before}
        measured[path] = {"records": 10_000, "seconds": round(seconds, 2), "wall_s": round(wall, 2),
                          "records_per_s": round(10_000 / max(seconds, 0.001)),
                          "task_seconds": {name: value for name, value in busy.items() if value}}
        assert landed == 10_000, path  # counts in = rows out + invalid
    report("throughput_10k", measured)
