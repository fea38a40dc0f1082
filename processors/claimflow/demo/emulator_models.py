"""Changes to moto's DynamoDB and Kinesis models that make a large demo possible, each with the same answers as
moto's own.

moto is written for unit tests: a few items, all in memory. A 100,000-claim demo writes about 370,000 changes
and then scans the whole table, and five of moto's ways of doing things grow faster than the data:

- ``install_item_size_shim``: building an item re-measures every attribute already set each time one more is set
  (quadratic in the attributes, about a tenth of the emulator's time), and measuring a nested value copies each
  subtree once per level (``DynamoType.size``, also run twice per item by every Scan);
- ``install_stream_image_shim``: writing the stream record's images copies each nested subtree once per level;
- ``install_scan_order_shim``: every Scan page sorts the whole table and then walks it from the start to find the
  page's start key, so a full Scan is quadratic (minutes at 100,000 items);
- ``install_kinesis_shard_shim``: a Kinesis shard finds its last sequence number by listing every record it
  holds (on each PutRecord) and a GetRecords' start by walking them from the first, so the emulator slows down
  with whatever the consumer has not yet passed (the emulated retention drops only that);
- ``DiskItems`` (``use_disk_items``): the table lives in memory, about 11 to 14 KB per item in moto's object
  trees, so the emulator grew with the table; on disk (SQLite, one file per table) its memory stays flat. An
  UpdateItem, which moto applies to the item it read, stores the changed copy again.

Only the emulator changes; every client call still goes through boto3 and moto's HTTP endpoint, and moto still
parses, validates and answers each request. tests/demo compares each change with moto's own behaviour.
"""

from __future__ import annotations

import base64
import copy
import pickle
import sqlite3
import threading
import uuid
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

# moto's limit in LimitedSizeDict (DynamoDB's 400 KB, measured by moto's authors between 409 and 410 KB).
ITEM_SIZE_LIMIT = 405_000
# Items read from disk per query while a Scan walks the table in key order.
SCAN_CHUNK = 256


def install_model_shims() -> None:
    """The four speed changes (not the disk store, which ``use_disk_items`` turns on)."""
    install_item_size_shim()
    install_stream_image_shim()
    install_scan_order_shim()
    install_kinesis_shard_shim()


def _shimmed(owner: Any, name: str, replacement: Any) -> None:
    original = getattr(owner, name)
    replacement.claimflow_shim = True
    replacement.original = original
    setattr(owner, name, replacement)


def install_item_size_shim() -> None:
    """Build a new item's attributes and measure the whole item once.

    Sizes only add up, so of moto's per-attribute checks the last one decides; it is the one made here (same sum,
    same limit, same error). Later in-place changes (UpdateItem) keep moto's own check.
    """
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict, bytesize

    if getattr(Item.__init__, "claimflow_shim", False):
        return
    _shimmed(DynamoType, "size", _size_of_values())

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(built)
        size = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size += bytesize(key) + typed.size()
            dict.__setitem__(built, key, typed)
        if size > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = built

    _shimmed(Item, "__init__", __init__)


def _size_of_values() -> Any:
    """moto's ``DynamoType.size``, rule for rule and in its order, without building a copy of each nested value
    (moto measures a map's member by making a new DynamoType of it, which copies its whole subtree)."""
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    bytesize = utilities.bytesize
    # moto 5.2.6 sizes a number by its significant digits, as DynamoDB does; earlier versions by its text.
    number_size: Any = getattr(utilities, "number_size", len)

    def value_size(kind: str, value: Any) -> int:
        if kind == "N":
            return int(number_size(str(value)))
        if kind in ("SS", "NS", "BS"):
            return sum(value_size(kind[0], member) for member in value)
        if kind == "L":
            return sum(value_size(member.type, member.value) for member in value)
        if kind == "M":
            total = 0
            for name, member in value.items():
                typed = member if type(member) is DynamoType else DynamoType(member)
                total += bytesize(name) + value_size(typed.type, typed.value)
            return total
        if isinstance(value, bool):
            return 1
        return bytesize(value)

    def size(self: Any) -> int:
        return value_size(self.type, self.value)

    return size


def install_stream_image_shim() -> None:
    """Convert an item's nested values for its stream record with one copy of each value.

    Leaves that cannot change (strings, numbers, bytes) are shared, containers are copied, so the record still
    never aliases the stored item (UpdateItem changes items in place).
    """
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoType.to_regular_json, "claimflow_shim", False):
        return
    immutable = (str, bytes, int, float, bool, type(None))

    def copied(value: Any) -> Any:
        if isinstance(value, DynamoType):
            return to_regular_json(value)
        return value if isinstance(value, immutable) else copy.deepcopy(value)

    def to_regular_json(self: Any) -> dict[str, Any]:
        value = self.value
        if isinstance(value, dict):
            value = {key: copied(nested) for key, nested in value.items()}
        elif isinstance(value, list):
            value = [copied(nested) for nested in value]
        elif self.is_binary() and isinstance(value, str):
            value = base64.b64decode(value)
        return {self.type: value}

    _shimmed(DynamoType, "to_regular_json", to_regular_json)


_scan_start = threading.local()


def install_scan_order_shim() -> None:
    """Let a Scan page start at its start key instead of sorting and walking the whole table again.

    moto's ``Table.scan`` takes ``all_items()`` (the table sorted by key) and skips every item up to the
    ``ExclusiveStartKey``. For a table whose items are ``DiskItems`` with a string hash key and no range key (the
    demo's), ``all_items`` called by a plain Scan (no index, no segments) yields the items in key order from the
    start key on, read from disk in chunks; moto's own loop then skips the start item and fills the page with its
    own limits. Every other call is moto's.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.scan, "claimflow_shim", False):
        return
    original_scan = Table.scan
    original_all_items = Table.all_items

    def scan(self: Any, filters: Any, limit: Any, exclusive_start_key: Any, *args: Any, **kwargs: Any) -> Any:
        # Table.scan(filters, limit, exclusive_start_key, filter_expression, index_name, ..., segments=...)
        index_name = args[1] if len(args) > 1 else kwargs.get("index_name")
        plain = not index_name and kwargs.get("segments", (None, None)) == (None, None) and len(args) < 6
        if not (plain and isinstance(self.items, DiskItems) and self.items.ordered):
            return original_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        start = None
        if exclusive_start_key:
            start = exclusive_start_key.get(self.hash_key_attr, {}).get("S")
        _scan_start.table, _scan_start.key = self, start
        try:
            return original_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        finally:
            _scan_start.table = _scan_start.key = None

    def all_items(self: Any) -> Any:
        scanning: Any = getattr(_scan_start, "table", None)
        if scanning is not None and scanning is self:
            return scanning.items.in_key_order(_scan_start.key)
        return original_all_items(self)

    _shimmed(Table, "scan", scan)
    _shimmed(Table, "all_items", all_items)


def _consecutive(records: Any) -> bool:
    # moto numbers a shard's records 1, 2, 3, ... (last + 1 on each put); the emulated retention drops them from
    # the front only. Anything else (a shard moto filled some other way) is left to moto's own walk.
    return not records or next(reversed(records)) - next(iter(records)) + 1 == len(records)


def install_kinesis_shard_shim() -> None:
    """Let a Kinesis shard find its last record and a GetRecords' first one directly, not by walking all of them.

    moto's ``Shard.put_record`` takes the last sequence number from a list of every stored key, and
    ``Shard.get_records`` walks the shard from its first record to the first one after the iterator's position.
    The records are an ordered dict keyed by consecutive integers, so the last key is the dict's last and the
    first record after position ``n`` is key ``n + 1`` (or the first key, when ``n`` lies before it). The same
    records, positions and ``MillisBehindLatest`` as moto's; a shard whose keys are not consecutive gets moto's.
    """
    from moto.kinesis.models import Record, Shard

    if getattr(Shard.put_record, "claimflow_shim", False):
        return
    original_put_record, original_get_records = Shard.put_record, Shard.get_records

    def put_record(self: Any, partition_key: str, data: Any, explicit_hash_key: str) -> str:
        records = self.records
        if not _consecutive(records):
            return str(original_put_record(self, partition_key, data, explicit_hash_key))
        sequence_number = next(reversed(records)) + 1 if records else 1
        records[sequence_number] = Record(partition_key, data, sequence_number, explicit_hash_key)
        return str(sequence_number)

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records)) if self.records else 0

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        records = self.records
        if not records or not _consecutive(records) or (limit is not None and limit < 1):
            return original_get_records(self, last_sequence_id, limit)
        last_sequence = int(last_sequence_id)
        first, newest = next(iter(records)), next(reversed(records))
        start = max(last_sequence + 1, first)
        stop = newest if limit is None else min(newest, start + limit - 1)
        results = [records[number] for number in range(start, stop + 1)]
        if not results:
            return results, last_sequence, 0
        behind = records[newest].created_at - results[-1].created_at  # seconds, or a timedelta from moto 5.2.6 on
        seconds = behind.total_seconds() if hasattr(behind, "total_seconds") else behind
        return results, results[-1].sequence_number, int(seconds * 1000)

    _shimmed(Shard, "put_record", put_record)
    _shimmed(Shard, "get_max_sequence_number", get_max_sequence_number)
    _shimmed(Shard, "get_records", get_records)


def _store_key(key: Any) -> str:
    # The hash key's text: DynamoType's (type, value), so "1" as S and 1 as N stay apart.
    return f"{key.type}:{key.value}" if not isinstance(key.value, bytes) else f"{key.type}:{key.value.hex()}"


def _dump_item(item: Any) -> bytes:
    # The attributes as a plain dict: unpickling a LimitedSizeDict would re-run its quadratic size checks.
    return pickle.dumps((item.hash_key, item.range_key, dict(item.attrs)), protocol=pickle.HIGHEST_PROTOCOL)


def _load_item(blob: bytes) -> Any:
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    hash_key, range_key, attrs = pickle.loads(blob)  # our own file, written by _dump_item
    item: Any = Item.__new__(Item)
    item.hash_key, item.range_key = hash_key, range_key
    item.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(item.attrs, attrs)
    return item


class DiskItems(MutableMapping[Any, Any]):
    """A hash-key-only moto table's ``items`` (hash key -> Item), kept in a SQLite file instead of in memory.

    Insertion order is kept as a dict keeps it (an overwrite keeps its place). ``ordered``: the hash key is a
    string, so SQLite's byte order of the UTF-8 text equals Python's (moto's) string order, and a Scan can read
    the table in key order from disk (``in_key_order``). The file is scratch: no journal, no sync.
    """

    def __init__(self, path: Path, key_type: str) -> None:
        self.path = path
        self.ordered = key_type == "S"
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -16000", "temp_store = MEMORY"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE items (key TEXT PRIMARY KEY, sort_key TEXT, hash BLOB, item BLOB)")
        self._db.execute("CREATE INDEX items_by_sort_key ON items (sort_key)")

    def __getitem__(self, key: Any) -> Any:
        found = self._db.execute("SELECT item FROM items WHERE key = ?", (_store_key(key),)).fetchone()
        if found is None:
            raise KeyError(key)
        return _load_item(found[0])

    def __contains__(self, key: object) -> bool:
        try:
            found = self._db.execute("SELECT 1 FROM items WHERE key = ?", (_store_key(key),)).fetchone()
        except AttributeError:  # not a DynamoType
            return False
        return found is not None

    def __setitem__(self, key: Any, item: Any) -> None:
        sort_key = key.value if self.ordered else None
        self._db.execute(
            "INSERT INTO items (key, sort_key, hash, item) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET item = excluded.item",
            (_store_key(key), sort_key, pickle.dumps(key), _dump_item(item)),
        )

    def __delitem__(self, key: Any) -> None:
        if self._db.execute("DELETE FROM items WHERE key = ?", (_store_key(key),)).rowcount == 0:
            raise KeyError(key)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def _rows(self, column: str) -> Iterator[Any]:
        # Keyset pagination by rowid: no cursor stays open while the caller changes the table.
        last = 0
        while rows := self._db.execute(
            f"SELECT rowid, {column} FROM items WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, SCAN_CHUNK)
        ).fetchall():
            for rowid, blob in rows:
                last = rowid
                yield blob

    def __iter__(self) -> Iterator[Any]:
        return (pickle.loads(blob) for blob in self._rows("hash"))  # our own file

    def values(self) -> Iterator[Any]:  # type: ignore[override]  # streamed, not a view
        return (_load_item(blob) for blob in self._rows("item"))

    def in_key_order(self, start: str | None) -> Iterator[Any]:
        """The items in key order from ``start`` (included) on; ``start`` None: from the first."""
        bound, comparison = start or "", ">="
        while rows := self._db.execute(
            f"SELECT sort_key, item FROM items WHERE sort_key {comparison} ? ORDER BY sort_key LIMIT ?",
            (bound, SCAN_CHUNK),
        ).fetchall():
            for _, blob in rows:
                yield _load_item(blob)
            bound, comparison = rows[-1][0], ">"

    def close(self) -> None:
        self._db.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[Any, Any]:
        # moto's table backups deep-copy ``items``; a backup becomes an ordinary in-memory dict.
        pairs = zip(self, self.values(), strict=True)
        return {copy.deepcopy(key, memo): copy.deepcopy(item, memo) for key, item in pairs}


def use_disk_items(directory: Path | None) -> None:
    """Make every new moto table with only a hash key keep its items in a SQLite file under ``directory``
    (None: in memory again, as moto does)."""
    from moto.dynamodb.models.table import Table

    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    _disk.directory = directory
    if getattr(Table.__init__, "claimflow_shim", False):
        return
    original = Table.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if _disk.directory is not None and self.range_key_attr is None and not self.items:
            self.items = DiskItems(_disk.directory / f"{self.name}-{uuid.uuid4().hex}.sqlite", self.hash_key_type)

    _shimmed(Table, "__init__", __init__)
    _write_back_updates()


def _write_back_updates() -> None:
    # moto's UpdateItem changes the item it read in place, which for a table in memory is the stored item; an item
    # read from disk is a copy, so the changed item is stored again (transactions' updates come through here too).
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, key, *args, **kwargs)
        items = self.get_table(table_name).items
        if isinstance(items, DiskItems):
            items[item.hash_key] = item
        return item

    _shimmed(DynamoDBBackend, "update_item", update_item)


class _DiskSetting:
    directory: Path | None = None


_disk = _DiskSetting()
