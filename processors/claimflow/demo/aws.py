"""Local AWS emulation and the boto3 clients the demo uses (the same code path as real AWS).

The emulator is moto's HTTP server on 127.0.0.1; everything else reaches it only through boto3 with an
``endpoint_url``, exactly as it would reach AWS. Fake credentials are set on the emulator's session only,
never in the process environment.
"""

from __future__ import annotations

import base64
import calendar
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from claimflow import names
from claimflow.demo.emulator_models import install_model_shims, use_disk_items

DEFAULT_TABLE = names.DYNAMODB_TABLE
DEFAULT_STREAM = names.KINESIS_STREAM  # the stream infra/ and the flow definitions use
DEFAULT_REGION = "us-east-1"
TTL_ATTRIBUTE = "expires_at"
EMULATOR_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class AwsClients:
    """The three low-level clients the pipeline needs, all bound to one endpoint (or to AWS)."""

    dynamodb: Any
    streams: Any
    kinesis: Any
    region: str
    endpoint_url: str | None


@contextmanager
def local_aws(lock: threading.Lock | None = None, item_directory: Path | None = None) -> Iterator[str]:
    """Run moto as a real HTTP server on a free port of 127.0.0.1; yields its endpoint URL.

    moto's DynamoDB model gets the speed changes of ``claimflow.demo.emulator_models``; with ``item_directory``
    its tables also keep their items on disk there (flat memory however large the table).

    ``lock``: each request is handled while holding it, so code of the same process that uses moto's models
    directly (the emulator's bridge, ``claimflow.demo.emulator``) never runs in the middle of a request.

    Raises:
        RuntimeError: when moto (extra ``demo``) is not installed.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("the demo needs the 'demo' extra: pip install 'claimflow[demo]'") from exc
    # werkzeug logs every request at INFO; the demo's progress bar is the only output we want.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    install_stream_records_shim()
    install_kinesis_records_shim()
    install_scan_shim()
    install_batch_write_parse_shim()
    install_model_shims()
    use_disk_items(item_directory)  # None: in memory, as moto keeps them
    untrack_emulator_records()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    if lock is not None:
        _serialise_requests(server, lock)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _serialise_requests(server: Any, lock: threading.Lock) -> None:
    """Make ``server`` handle each request under ``lock``, the response body included (moto's Flask app builds it
    inside the call; a lazy body would otherwise be read outside the lock)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto_app = DomainDispatcherApplication(create_backend_app)

    def serialised(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            return list(moto_app(environ, start_response))

    def entry() -> None:  # ThreadedMotoServer's own server entry, with the app wrapped
        server._server = make_server(server._ip_address, server._port, serialised, True,
                                     request_handler=MotoRequestHandler)  # fmt: skip
        server._server_ready_event.set()
        server._server.serve_forever()

    server._server_entry = entry


def _wire_value(value: object) -> float | str:
    # As moto's own serializer writes them: times as epoch seconds with millisecond precision, binaries as base64.
    if isinstance(value, datetime):
        return calendar.timegm(value.utctimetuple()) + (value.microsecond // 1000) / 1000
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def install_stream_records_shim() -> None:
    """Make the emulator's DynamoDB Streams GetRecords answer fast, with the same JSON.

    moto serialises responses through the botocore model, which costs about 12 ms per DynamoDB Streams record
    (every attribute value is a nested structure); at that rate a 100,000-claim demo spends hours there. moto's
    backend already holds each record as the wire JSON, so this writes it directly (what older moto versions did).
    Only the emulator's response path changes; the demo's client code is untouched. tests/demo checks the shim's
    output against moto's serializer.
    """
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoDBStreamsHandler.get_records, "claimflow_shim", False):
        return

    def get_records(self: Any) -> str:
        limit = self._get_param("Limit") or 1000
        result = self.backend.get_records(self._get_param("ShardIterator"), limit)
        return json.dumps(result, default=_wire_value)

    get_records.claimflow_shim = True  # type: ignore[attr-defined]
    get_records.original = DynamoDBStreamsHandler.get_records  # type: ignore[attr-defined]
    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign,assignment]


def install_kinesis_records_shim() -> None:
    """Make the emulator's Kinesis GetRecords answer with the same JSON, written directly.

    moto builds each Kinesis record's response by decoding the stored base64 data, then its botocore-model
    serializer walks every record and encodes the data again: about a third of a millisecond per record, the
    biggest single cost of the emulator in a large demo. moto stores the data as the base64 text the client sent,
    which is the wire form, so this writes it as it is. Only the emulator's response path changes; tests/demo
    checks the shim's answer against moto's serializer.
    """
    from moto.kinesis.responses import KinesisResponse

    if getattr(KinesisResponse.get_records, "claimflow_shim", False):
        return

    def get_records(self: Any) -> str:
        next_iterator, records, millis_behind = self.kinesis_backend.get_records(
            self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit")
        )
        body = {
            "NextShardIterator": next_iterator,
            "Records": [
                {
                    "Data": r.data if isinstance(r.data, str) else base64.b64encode(r.data).decode("ascii"),
                    "PartitionKey": r.partition_key,
                    "SequenceNumber": str(r.sequence_number),
                    # moto 5.2.6 on: created_at is the datetime (before, created_at_datetime)
                    "ApproximateArrivalTimestamp": _wire_value(getattr(r, "created_at_datetime", r.created_at)),
                }
                for r in records
            ],
            "MillisBehindLatest": millis_behind,
        }
        return json.dumps(body)

    get_records.claimflow_shim = True  # type: ignore[attr-defined]
    get_records.original = KinesisResponse.get_records  # type: ignore[attr-defined]
    KinesisResponse.get_records = get_records  # type: ignore[method-assign,assignment]


def install_scan_shim() -> None:
    """Make the emulator's DynamoDB Scan answer with the same JSON, written directly.

    moto already holds a Scan page as wire-format attribute values; its botocore-model serializer then walks
    every nested attribute of every item again (a few milliseconds per claim item, minutes for the reconciliation
    of a 100,000-claim table). This writes moto's result as JSON. Only the emulator's response path changes;
    tests/demo checks the shim's pages against moto's serializer.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.scan, "claimflow_shim", False):
        return
    original = DynamoHandler.scan

    def scan(self: Any) -> str:
        return json.dumps(original(self).result, default=_wire_value)

    scan.claimflow_shim = True  # type: ignore[attr-defined]
    scan.original = original  # type: ignore[attr-defined]
    DynamoHandler.scan = scan  # type: ignore[method-assign,assignment]


def _attribute_value(value: Any) -> Any:
    """One wire AttributeValue as moto's model-driven parser makes it (binaries decoded), or None when it is not
    one of the shapes a client sends, so the caller leaves the request to moto."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if (kind in ("S", "N") and isinstance(inner, str)) or (kind in ("BOOL", "NULL") and isinstance(inner, bool)):
        return value
    if kind in ("SS", "NS") and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
        return value
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64decode(inner, validate=True)}
    if kind == "BS" and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
        return {"BS": [base64.b64decode(v, validate=True) for v in inner]}
    if kind == "M" and isinstance(inner, dict):
        members = _attribute_map(inner)
        return None if members is None else {"M": members}
    if kind == "L" and isinstance(inner, list):
        elements = [_attribute_value(v) for v in inner]
        return None if any(e is None for e in elements) else {"L": elements}
    return None


def _attribute_map(values: Any) -> dict[str, Any] | None:
    if not isinstance(values, dict):
        return None
    parsed = {}
    for name, value in values.items():
        converted = _attribute_value(value)
        if converted is None:
            return None
        parsed[name] = converted
    return parsed


def _batch_write_params(body: bytes) -> dict[str, Any] | None:
    """BatchWriteItem's parameters as moto's parser makes them, in one pass; None for anything unusual."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict) or set(request) - {"RequestItems", "ReturnConsumedCapacity",
                                                         "ReturnItemCollectionMetrics"}:
        return None
    tables = request.get("RequestItems")
    if not isinstance(tables, dict):
        return None
    for writes in tables.values():
        if not isinstance(writes, list):
            return None
        for write in writes:
            if not isinstance(write, dict) or len(write) != 1:
                return None
            ((kind, inner),) = write.items()
            field = {"PutRequest": "Item", "DeleteRequest": "Key"}.get(kind)
            if field is None or not isinstance(inner, dict) or set(inner) != {field}:
                return None
            try:
                values = _attribute_map(inner[field])
            except ValueError:  # not base64: moto's parser says what is wrong
                return None
            if values is None:
                return None
            inner[field] = values
    return request


def install_batch_write_parse_shim() -> None:
    """Parse the emulator's BatchWriteItem requests in one pass, to the same parameters.

    moto parses every request by walking the botocore model over each nested attribute value: about a seventh of
    the emulator's time in a large demo, where the generator's 25-item BatchWriteItem requests are most of the
    traffic. A client's AttributeValues need only their binaries decoded, which this does; any request of another
    shape (or not valid base64) still goes through moto's parser. tests/demo checks that both give the same
    parameters.
    """
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.parse_parameters, "claimflow_shim", False):
        return
    original = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        if self._get_action() == "BatchWriteItem":
            params = _batch_write_params(request.data)
            if params is not None:
                self.params = params
                return
        original(self, request)

    parse_parameters.claimflow_shim = True  # type: ignore[attr-defined]
    parse_parameters.original = original  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]


class _NotRetained(list):
    """A list that drops what is appended: moto's per-class instance register, for high-volume classes."""

    def append(self, item: object) -> None:
        pass


def untrack_emulator_records() -> None:
    """Stop moto from keeping every instance of its per-change classes alive.

    moto registers every model instance it ever creates in ``<class>.instances_tracked`` (for its web dashboard)
    and never lets go: every DynamoDB item version (each PutItem makes a new ``Item``), every DynamoDB Streams
    record, every stream shard iterator and every Kinesis record. That, not the live table, is what grew the
    emulator by about 120 KB per claim, and it defeated the emulated retention (dropped records stayed referenced).
    Only the dashboard register changes; the table, its stream and the Kinesis shards keep what AWS would keep.
    """
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord
    from moto.dynamodbstreams.models import ShardIterator
    from moto.kinesis.models import Record

    models: tuple[Any, ...] = (Item, StreamRecord, ShardIterator, Record)
    for model in models:
        if not isinstance(model.instances_tracked, _NotRetained):
            model.instances_tracked = _NotRetained()


def trim_emulator_streams(
    resources: Resources,
    region: str,
    table_stream_read: Mapping[str, str],
    kinesis_checkpoints: Mapping[str, str],
) -> int:
    """Emulated stream retention for the embedded moto server: drop what every reader has passed.

    Real DynamoDB Streams and Kinesis drop records after their retention period; moto keeps them all, and its
    Kinesis shard scans every stored record on each GetRecords and PutRecord, so a 100,000-claim run would grow
    without bound and slow down quadratically. The bridge is the only reader of the table's stream
    (``table_stream_read``: shard id -> last sequence number read) and the consumer the only reader of Kinesis
    (``kinesis_checkpoints``: committed positions); records before those positions are never read again. The last
    record of each Kinesis shard is kept so sequence numbers keep growing. Call only for the embedded emulator
    (same process), between requests. Returns the number of records dropped.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.kinesis.models import kinesis_backends

    dropped = 0
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][region].tables.get(resources.table_name)
    shard = getattr(table, "stream_shard", None)
    if shard is not None and shard.id in table_stream_read:
        count = int(table_stream_read[shard.id]) + 1 - shard.starting_sequence_number
        if count > 0:
            del shard.items[:count]
            shard.starting_sequence_number += count
            dropped += count
        _drop_passed_stream_iterators(region, shard)
    stream = kinesis_backends[DEFAULT_ACCOUNT_ID][region].streams.get(resources.kinesis_stream)
    if stream is not None:
        for shard_id, checkpoint in kinesis_checkpoints.items():
            records = stream.shards[shard_id].records if shard_id in stream.shards else None
            while records and next(iter(records)) < int(checkpoint):
                del records[next(iter(records))]
                dropped += 1
    return dropped


def _drop_passed_stream_iterators(region: str, shard: Any) -> None:
    # moto keeps every DynamoDB Streams iterator it ever issued (one per GetRecords); AWS expires them after
    # 15 minutes. Those before the retained records point at nothing anyone reads again.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    iterators = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][region].shard_iterators
    passed = [arn for arn, it in iterators.items()
              if it.stream_shard is shard and it.sequence_number < shard.starting_sequence_number]  # fmt: skip
    for arn in passed:
        del iterators[arn]


class _EmbeddedStreams:
    """The DynamoDB Streams calls the bridge makes, answered by the embedded emulator's backend in process."""

    def __init__(self, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        self._backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][region]

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": self._backend.describe_stream(StreamArn)}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str) -> dict[str, Any]:
        return {"ShardIterator": self._backend.get_shard_iterator(StreamArn, ShardId, ShardIteratorType).arn}

    def get_records(self, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:
        page = self._backend.get_records(ShardIterator, Limit)
        records = []
        for stored in page["Records"]:
            record = dict(stored)  # moto's stored record: never change it
            body = record["dynamodb"] = dict(record["dynamodb"])
            moment = body["ApproximateCreationDateTime"]  # milliseconds, as the wire carries it
            body["ApproximateCreationDateTime"] = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            records.append(record)
        return {"Records": records, "NextShardIterator": page["NextShardIterator"]}


class _EmbeddedKinesisWriter:
    """Kinesis PutRecords into the embedded emulator's backend in process (what DynamoDB's own streaming
    destination does inside AWS: no client call)."""

    def __init__(self, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.kinesis.models import kinesis_backends

        self._backend = kinesis_backends[DEFAULT_ACCOUNT_ID][region]

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        wire = [{**r, "Data": base64.b64encode(r["Data"]).decode("ascii")} for r in Records]
        return self._backend.put_records(None, StreamName, wire)  # type: ignore[arg-type]  # by name, as boto3 sends it


def embedded_bridge_clients(clients: AwsClients) -> AwsClients:
    """The bridge's view of the embedded emulator: its DynamoDB Streams reads and Kinesis writes go to moto's
    backends in process instead of over HTTP.

    The bridge plays AWS's "Kinesis Data Streams for DynamoDB", which is not a client of AWS: inside AWS the table
    itself feeds Kinesis. Over HTTP every change was serialised and parsed four times (Streams GetRecords out and
    in, PutRecords out and in), the largest share of a demo run. The generator (BatchWriteItem) and the consumer
    (ListShards, GetShardIterator, GetRecords) still go through boto3 and the emulator's HTTP endpoint. Only for
    the embedded emulator (same process); tests/demo checks that both ways forward identical records.
    """
    return AwsClients(
        dynamodb=clients.dynamodb,
        streams=_EmbeddedStreams(clients.region),
        kinesis=_EmbeddedKinesisWriter(clients.region),
        region=clients.region,
        endpoint_url=clients.endpoint_url,
    )


def make_clients(endpoint_url: str | None, region: str = DEFAULT_REGION, profile: str | None = None) -> AwsClients:
    """boto3 clients for DynamoDB, DynamoDB Streams and Kinesis.

    With ``endpoint_url`` (the emulator) the session gets fake credentials and account-specific endpoints are
    disabled (botocore >= 1.44 would route Streams/Kinesis calls to account endpoints moto does not serve).
    Without it, the normal credential chain (environment, profile, instance role) talks to real AWS.
    """
    config = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    if endpoint_url:
        session = boto3.session.Session(region_name=region, **EMULATOR_CREDENTIALS)
        # botocore's client-side parameter validation walks every attribute of every BatchWriteItem (a tenth of a
        # large demo); the emulator parses each request with the same service model and rejects what DynamoDB
        # would, so against the emulator only the server checks. Real AWS keeps both.
        config = config.merge(Config(account_id_endpoint_mode="disabled", parameter_validation=False))
    else:
        session = boto3.session.Session(region_name=region, profile_name=profile)
    kwargs: dict[str, Any] = {"config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return AwsClients(
        dynamodb=session.client("dynamodb", **kwargs),
        streams=session.client("dynamodbstreams", **kwargs),
        kinesis=session.client("kinesis", **kwargs),
        region=region,
        endpoint_url=endpoint_url,
    )


@dataclass(frozen=True)
class Resources:
    table_name: str
    table_stream_arn: str
    kinesis_stream: str
    ttl_attribute: str | None


def ensure_resources(
    clients: AwsClients, table_name: str = DEFAULT_TABLE, stream_name: str = DEFAULT_STREAM, shards: int = 4
) -> Resources:
    """Create (or reuse) the claims table with a NEW_AND_OLD_IMAGES stream and TTL, and the Kinesis stream.

    Raises:
        RuntimeError: when an existing table has no stream enabled.
    """
    ddb = clients.dynamodb
    try:
        table = ddb.describe_table(TableName=table_name)["Table"]
    except ddb.exceptions.ResourceNotFoundException:
        table = ddb.create_table(
            TableName=table_name,
            KeySchema=[{"AttributeName": "claim_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "claim_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        ddb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        ddb.update_time_to_live(
            TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
    stream_arn = table.get("LatestStreamArn")
    if not stream_arn:
        raise RuntimeError(f"table {table_name} has no DynamoDB stream; enable NEW_AND_OLD_IMAGES")
    ttl = ddb.describe_time_to_live(TableName=table_name).get("TimeToLiveDescription", {})
    ttl_attribute = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None

    kinesis = clients.kinesis
    try:
        kinesis.describe_stream_summary(StreamName=stream_name)
    except kinesis.exceptions.ResourceNotFoundException:
        kinesis.create_stream(StreamName=stream_name, ShardCount=shards)
    _wait_stream_active(kinesis, stream_name)
    return Resources(table_name, stream_arn, stream_name, ttl_attribute)


def _wait_stream_active(kinesis: Any, stream_name: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]["StreamStatus"]
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kinesis stream {stream_name} is still {status} after {timeout_s:.0f} s")
        time.sleep(1.0)
