"""The emulator's changes to moto's DynamoDB model answer as moto does (claimflow.demo.emulator_models), and the
emulator's own process streams, reports and fails cleanly (claimflow.demo.emulator)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claimflow.demo.aws import AwsClients, ensure_resources, local_aws, make_clients
from claimflow.demo.emulator_models import ITEM_SIZE_LIMIT, DiskItems, install_model_shims, use_disk_items

RICH_ITEM: dict[str, Any] = {
    "claim_id": {"S": "c-1"},
    "total": {"N": "12.50"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\x01\xff"},
    "codes": {"SS": ["E11.9", "I10"]},
    "amounts": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "lines": {"L": [{"M": {"code": {"S": "99213"}, "units": {"N": "1"}, "tags": {"L": [{"S": "a"}]}}}]},
    "patient": {"M": {"name": {"S": "Test Patient"}, "address": {"M": {"zip": {"S": "02134"}}}}},
}
# Keys whose UTF-8 byte order and Python's code-point order must agree (the disk store scans in SQLite's order).
KEYS = ["a", "B", "é", "z", "Z0", "日本", "😀", "a ", " a", "a\u2028", "10", "9", "~", "ß"]


@pytest.fixture
def disk_aws(tmp_path: Path) -> Iterator[AwsClients]:
    with local_aws(item_directory=tmp_path / "items") as url:
        yield make_clients(url)
    use_disk_items(None)


def _table(name: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[name]


def test_item_size_shim_accepts_and_refuses_exactly_as_moto() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    install_model_shims()
    shim = Item.__init__
    assert getattr(shim, "claimflow_shim", False)
    key = DynamoType({"S": "k"})
    for padding in (ITEM_SIZE_LIMIT - 40, ITEM_SIZE_LIMIT - 12, ITEM_SIZE_LIMIT - 11, ITEM_SIZE_LIMIT):
        attrs = {"claim_id": {"S": "k"}, "pad": {"S": "x" * padding}, **{k: v for k, v in RICH_ITEM.items()
                                                                          if k != "claim_id"}}  # fmt: skip
        outcomes = []
        for init in (shim, shim.original):
            item = Item.__new__(Item)
            try:
                init(item, key, None, attrs)
                outcomes.append(("ok", item.attrs, item.size()))
            except ItemSizeTooLarge:
                outcomes.append(("too large", None, None))
        assert outcomes[0] == outcomes[1], padding
    assert {o for o, *_ in outcomes} == {"too large"}  # the last padding is over the limit


def test_stream_image_shim_converts_as_moto_without_aliasing_the_item() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    install_model_shims()
    shim = DynamoType.to_regular_json
    assert getattr(shim, "claimflow_shim", False)
    item = Item(DynamoType({"S": "c-1"}), None, RICH_ITEM)
    fast = item.to_json()
    for value in item.attrs.values():
        assert shim(value) == shim.original(value)
    fast["Attributes"]["lines"]["L"][0]["M"]["tags"]["L"].append({"S": "changed"})
    fast["Attributes"]["codes"]["SS"].append("changed")
    again = item.to_json()["Attributes"]
    assert again["lines"]["L"][0]["M"]["tags"]["L"] == [{"S": "a"}] and again["codes"]["SS"] == ["E11.9", "I10"]


def _scan_pages(clients: AwsClients, table: str, limit: int | None) -> list[tuple[list[str], Any]]:
    pages = []
    kwargs: dict[str, Any] = {"TableName": table, **({"Limit": limit} if limit else {})}
    while True:
        page = clients.dynamodb.scan(**kwargs)
        pages.append(([i["claim_id"]["S"] for i in page["Items"]], page.get("LastEvaluatedKey")))
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_disk_items_table_answers_like_moto_and_scans_in_its_order(disk_aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from moto.dynamodb.models.table import Table

    ensure_resources(disk_aws, "DiskClaims", "DiskStream", shards=1)
    table = _table("DiskClaims")
    assert isinstance(table.items, DiskItems) and table.items.ordered
    for key in KEYS:
        disk_aws.dynamodb.put_item(TableName="DiskClaims", Item={**RICH_ITEM, "claim_id": {"S": key}})
    disk_aws.dynamodb.put_item(TableName="DiskClaims", Item={**RICH_ITEM, "claim_id": {"S": "é"},
                                                             "total": {"N": "99"}})  # fmt: skip
    disk_aws.dynamodb.delete_item(TableName="DiskClaims", Key={"claim_id": {"S": "z"}})
    got = disk_aws.dynamodb.get_item(TableName="DiskClaims", Key={"claim_id": {"S": "é"}}, ConsistentRead=True)
    assert got["Item"]["total"] == {"N": "99"} and got["Item"]["blob"] == {"B": b"\x00\x01\xff"}
    assert "Item" not in disk_aws.dynamodb.get_item(TableName="DiskClaims", Key={"claim_id": {"S": "z"}})
    assert disk_aws.dynamodb.describe_table(TableName="DiskClaims")["Table"]["ItemCount"] == len(KEYS) - 1
    # The whole stream of changes, images and all, as moto records them
    records = table.stream_shard.items
    assert [r.record["eventName"] for r in records][-2:] == ["MODIFY", "REMOVE"]
    assert records[-2].record["dynamodb"]["OldImage"]["total"] == {"N": "12.50"}

    started_at: list[str | None] = []
    in_key_order = DiskItems.in_key_order

    def spied(self: DiskItems, start: str | None) -> Iterator[Any]:
        started_at.append(start)
        return in_key_order(self, start)

    monkeypatch.setattr(DiskItems, "in_key_order", spied)
    for limit in (None, 1, 3, 5):
        started_at.clear()
        fast = _scan_pages(disk_aws, "DiskClaims", limit)
        assert started_at[0] is None and len(started_at) == len(fast)  # each page started at its key on disk
        assert started_at[1:] == [page[1]["claim_id"]["S"] for page in fast[:-1]]
        with monkeypatch.context() as moto_own:
            moto_own.setattr(Table, "scan", Table.scan.original)
            moto_own.setattr(Table, "all_items", Table.all_items.original)
            assert _scan_pages(disk_aws, "DiskClaims", limit) == fast, limit
        assert [k for ids, _ in fast for k in ids] == sorted(set(KEYS) - {"z"})


def _updates(clients: AwsClients, table: str) -> list[dict[str, Any]]:
    """Plain, nested and transactional UpdateItem on one item, then what GetItem and the stream show."""
    ddb = clients.dynamodb
    ddb.put_item(TableName=table, Item=RICH_ITEM)
    key = {"claim_id": {"S": "c-1"}}
    total = {"#t": "total"}  # a reserved word
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #t = :t REMOVE flag",
                    ExpressionAttributeNames=total, ExpressionAttributeValues={":t": {"N": "20"}})  # fmt: skip
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET patient.address.zip = :z",
                    ExpressionAttributeValues={":z": {"S": "10001"}})  # fmt: skip
    ddb.transact_write_items(TransactItems=[{"Update": {
        "TableName": table, "Key": key, "UpdateExpression": "SET note = :n",
        "ExpressionAttributeValues": {":n": {"S": "in a transaction"}},
    }}])  # fmt: skip
    ddb.update_item(TableName=table, Key={"claim_id": {"S": "c-new"}}, UpdateExpression="SET #t = :t",
                    ExpressionAttributeNames=total, ExpressionAttributeValues={":t": {"N": "1"}})  # fmt: skip
    got = [ddb.get_item(TableName=table, Key={"claim_id": {"S": k}}, ConsistentRead=True)["Item"]
           for k in ("c-1", "c-new")]  # fmt: skip
    images = [
        {name: r.record["dynamodb"].get(name) for name in ("Keys", "NewImage", "OldImage")}
        for r in _table(table).stream_shard.items
    ]
    return [*got, *images]


def test_disk_items_keep_updates_as_moto_does(disk_aws) -> None:  # type: ignore[no-untyped-def]
    # moto's UpdateItem changes the item it read in place: from disk that is a copy, which must be stored again.
    ensure_resources(disk_aws, "DiskUpdates", "DiskUpdatesStream", shards=1)
    assert isinstance(_table("DiskUpdates").items, DiskItems)
    on_disk = _updates(disk_aws, "DiskUpdates")
    assert on_disk[0]["total"] == {"N": "20"} and "flag" not in on_disk[0]
    assert on_disk[0]["patient"]["M"]["address"]["M"]["zip"] == {"S": "10001"}
    assert on_disk[0]["note"] == {"S": "in a transaction"} and on_disk[1]["total"] == {"N": "1"}
    use_disk_items(None)
    ensure_resources(disk_aws, "MemoryUpdates", "MemoryUpdatesStream", shards=1)
    assert not isinstance(_table("MemoryUpdates").items, DiskItems)
    assert _updates(disk_aws, "MemoryUpdates") == on_disk


def test_disk_items_keep_the_emulator_memory_flat(tmp_path: Path) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    def held(items: Any) -> int:
        tracemalloc.start()
        for number in range(400):
            key = DynamoType({"S": f"claim-{number:05d}"})
            items[key] = Item(key, None, {**RICH_ITEM, "claim_id": {"S": f"claim-{number:05d}"}})
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return current

    in_memory = held({})
    disk = DiskItems(tmp_path / "t.sqlite", "S")
    on_disk = held(disk)
    assert len(disk) == 400 and DynamoType({"S": "claim-00399"}) in disk
    assert on_disk * 5 < in_memory, (on_disk, in_memory)
    assert next(iter(disk)) == DynamoType({"S": "claim-00000"})  # insertion order, as a dict
    disk.close()


def test_emulator_process_streams_reports_and_refuses_out_of_order_commands(tmp_path: Path) -> None:
    from claimflow.demo.emulator import EmulatorError, EmulatorProcess, StreamingSettings

    with EmulatorProcess("us-east-1", tmp_path / "items") as emulator:
        clients = make_clients(emulator.url)
        with pytest.raises(EmulatorError, match="RuntimeError"):
            emulator.finish_streaming()  # nothing streams yet
        resources = ensure_resources(clients, "ProcClaims", "ProcStream", shards=2)
        emulator.start_streaming(StreamingSettings(resources, "us-east-1", 0.0, 0.0, 0.5, tmp_path / "events.txt",
                                                   tmp_path / "checkpoints.json"))  # fmt: skip
        for number in range(30):
            clients.dynamodb.put_item(TableName="ProcClaims", Item={**RICH_ITEM, "claim_id": {"S": f"c{number}"}})
        clients.dynamodb.delete_item(TableName="ProcClaims", Key={"claim_id": {"S": "c0"}})
        totals = emulator.finish_streaming()
        assert totals.events == totals.kinesis_records == 31
        assert totals.by_type == {"INSERT": 30, "REMOVE": 1}
        assert len((tmp_path / "events.txt").read_text().split()) == 31
        shards = clients.kinesis.list_shards(StreamName="ProcStream")["Shards"]
        seen = 0
        for shard in shards:
            iterator = clients.kinesis.get_shard_iterator(
                StreamName="ProcStream", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            seen += len(clients.kinesis.get_records(ShardIterator=iterator)["Records"])
        assert seen == 31
        usage = emulator.usage()
        assert usage.peak_rss_bytes > 10_000_000 and usage.cpu_s > 0
        assert list((tmp_path / "items").glob("ProcClaims-*.sqlite"))  # the table lives on disk


def test_batch_write_parse_shim_gives_moto_parsers_parameters(aws, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import copy

    from moto.dynamodb.responses import DynamoHandler

    ensure_resources(aws, "ParseShimClaims", "ParseShimStream", shards=1)
    seen: list[dict[str, Any]] = []
    batch_write_item = DynamoHandler.batch_write_item

    def recording(self: Any) -> Any:
        seen.append(copy.deepcopy(self.body))
        return batch_write_item(self)

    monkeypatch.setattr(DynamoHandler, "batch_write_item", recording)
    deep = {"M": {"scan": {"B": b"\x00\xff"}, "list": {"L": [{"BS": [b"\x01"]}, {"M": {"b": {"B": b"\x02"}}}]}}}
    requests = [
        {"RequestItems": {"ParseShimClaims": [
            {"PutRequest": {"Item": {**RICH_ITEM, "claim_id": {"S": f"c-{i}"}, "deep": deep}}} for i in range(3)
        ] + [{"DeleteRequest": {"Key": {"claim_id": {"S": "c-9"}}}}]}, "ReturnConsumedCapacity": "TOTAL"},
        {"RequestItems": {"ParseShimClaims": [{"PutRequest": {"Item": {"claim_id": {"S": "c-5"}, "e": {"M": {}},
                                                                        "l": {"L": []}}}}]}},
    ]
    shimmed = DynamoHandler.parse_parameters
    assert getattr(shimmed, "claimflow_shim", False)
    for request in requests:
        aws.dynamodb.batch_write_item(**request)
    fast = [seen.pop() for _ in list(seen)][::-1]
    monkeypatch.setattr(DynamoHandler, "parse_parameters", shimmed.original)  # moto's model-driven parser
    for request in requests:
        aws.dynamodb.batch_write_item(**request)
    assert seen == fast and len(fast) == 2
    assert fast[0]["RequestItems"]["ParseShimClaims"][0]["PutRequest"]["Item"]["deep"] == deep  # binaries as bytes


def test_batch_write_parse_shim_leaves_unusual_requests_to_moto() -> None:
    from claimflow.demo.aws import _batch_write_params

    put = {"PutRequest": {"Item": {"claim_id": {"S": "c-1"}}}}
    assert _batch_write_params(b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"claim_id": {"S": "c-1"}}}}]}}') == {
        "RequestItems": {"T": [put]}
    }
    for body in (
        b"not json",
        b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"x": {"B": "not base64!"}}}}]}}',
        b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"x": {"S": "a", "N": "1"}}}}]}}',  # two types
        b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"x": {"Q": "a"}}}}]}}',  # no such type
        b'{"RequestItems": {"T": [{"UpdateRequest": {"Key": {}}}]}}',
        b'{"RequestItems": {"T": [{"PutRequest": {"Item": {}, "Key": {}}}]}}',
        b'{"RequestItems": [], "Extra": 1}',
        b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"x": {"L": [{"S": 1}]}}}}]}}',
    ):
        assert _batch_write_params(body) is None, body


def test_kinesis_shard_shim_stores_and_reads_as_moto_does() -> None:
    import random

    from moto.kinesis.models import Shard

    install_model_shims()
    assert getattr(Shard.put_record, "claimflow_shim", False)
    rng = random.Random(7)
    shimmed, moto_shard = Shard(0, 0, 2**128), Shard(0, 0, 2**128)
    calls = (
        (Shard.put_record, Shard.put_record.original),  # type: ignore[attr-defined]
        (Shard.get_records, Shard.get_records.original),  # type: ignore[attr-defined]
        (Shard.get_max_sequence_number, Shard.get_max_sequence_number.original),  # type: ignore[attr-defined]
    )
    (put, moto_put), (get, moto_get), (last, moto_last) = calls
    assert last(shimmed) == moto_last(moto_shard) == 0
    assert get(shimmed, "0", None) == moto_get(moto_shard, "0", None) == ([], 0, 0)
    for round_ in range(40):
        for n in range(rng.randrange(1, 30)):
            data = f"r{round_}-{n}"
            assert put(shimmed, "pk", data, None) == moto_put(moto_shard, "pk", data, None)
        if rng.random() < 0.5:  # the emulated retention drops records from the front
            dropped = min(rng.randrange(20), len(moto_shard.records) - 1)
            for shard in (shimmed, moto_shard):
                for _ in range(dropped):
                    del shard.records[next(iter(shard.records))]
        assert list(shimmed.records) == list(moto_shard.records)
        assert last(shimmed) == moto_last(moto_shard)
        newest = moto_last(moto_shard)
        for position in (0, newest - 5, newest - 1, newest, newest + 3, rng.randrange(newest + 1)):
            for limit in (None, 1, 2, 7, 10_000):
                # both read the moto shard, so the records (and their creation times) are the same objects
                assert get(moto_shard, str(position), limit) == moto_get(moto_shard, str(position), limit)
    gap = list(moto_shard.records)[len(moto_shard.records) // 2]
    del moto_shard.records[gap]  # not consecutive: moto's own walk
    for position in (0, gap - 1, gap, gap + 1):
        assert get(moto_shard, str(position), 3) == moto_get(moto_shard, str(position), 3)
    assert put(moto_shard, "pk", "after the gap", None) == str(moto_last(moto_shard))


def _attribute_values() -> Any:
    from hypothesis import strategies as st

    text = st.text(max_size=12)
    number = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    binary = st.binary(max_size=8)
    leaf = st.one_of(
        text.map(lambda v: {"S": v}), number.map(lambda v: {"N": v}), binary.map(lambda v: {"B": v}),
        st.booleans().map(lambda v: {"BOOL": v}), st.just({"NULL": True}),
        st.lists(text, min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
        st.lists(number, min_size=1, max_size=4, unique=True).map(lambda v: {"NS": v}),
        st.lists(binary, min_size=1, max_size=4, unique=True).map(lambda v: {"BS": v}),
    )  # fmt: skip
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda v: {"L": v}),
            st.dictionaries(text, inner, max_size=4).map(lambda v: {"M": v}),
        ),
        max_leaves=20,
    )


def test_size_shim_measures_every_kind_of_value_as_moto() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    install_model_shims()
    size = DynamoType.size
    assert getattr(size, "claimflow_shim", False)

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.dictionaries(st.text(min_size=1, max_size=6), _attribute_values(), max_size=6))
    def measured_alike(attrs: dict[str, Any]) -> None:
        for value in attrs.values():
            typed = DynamoType(value)
            assert size(typed) == size.original(typed), value  # type: ignore[attr-defined]
        item = Item(DynamoType({"S": "k"}), None, {"claim_id": {"S": "k"}, **attrs})
        expected = sum(len(k.encode()) + size.original(v) for k, v in item.attrs.items())  # type: ignore[attr-defined]
        assert item.size() == expected

    measured_alike()
    rich = DynamoType(RICH_ITEM["lines"])
    assert size(rich) == size.original(rich) > 0  # type: ignore[attr-defined]
