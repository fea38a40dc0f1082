"""DynamoDB export to S3 (``ExportTableToPointInTime``, ``ExportFormat=DYNAMODB_JSON``) -> change events.

An export writes, under ``<prefix>/AWSDynamoDB/<ExportId>/``:

- ``manifest-summary.json``: one JSON object (``exportArn``, ``tableArn``, ``exportTime``, ``itemCount``,
  ``outputFormat``, ``manifestFilesS3Key``, ...);
- ``manifest-files.json``: one JSON object per line per data file (``dataFileS3Key``, ``itemCount``,
  ``md5Checksum``, ``etag``);
- ``data/<name>.json.gz``: gzipped, one ``{"Item": {...}}`` per line, attribute values in DynamoDB JSON (binaries
  base64, as in a stream record's images); at least one file per partition, possibly empty.

Each item becomes an INSERT change event at the export time (``exportTime``: the point in time the export
reflects, on DynamoDB's own clock, the clock of the stream's ``ApproximateCreationDateTime``), with the event id
``snapshot:<digest of the export ARN>:<digest of file and line>``: the same export read twice gives the same ids.
Exports read no table capacity. Bad input is one rejection per line, naming the line and the rule, never a value.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from claimflow.backfill.snapshot import (
    DEFAULT_KEY_ATTRIBUTES,
    Snapshot,
    SnapshotError,
    item_event,
    parse_time_us,
    place_ref,
    snapshot_event_id,
    source_id,
)
from claimflow.events import ChangeEvent, DecodedLines, Rejection

SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
EXPORT_DIRECTORY = "AWSDynamoDB"
SUPPORTED_FORMAT = "DYNAMODB_JSON"
_GZIP_MAGIC = b"\x1f\x8b"
# A data file is read whole (NiFi hands the content over as bytes); DynamoDB writes files of a few hundred MB at
# most, one per partition slice. Decompressed content above this is refused rather than exhausting memory.
MAX_DECOMPRESSED_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class DataFile:
    key: str  # S3 key (as manifest-files.json names it)
    item_count: int | None
    md5_checksum: str | None = None


@dataclass(frozen=True)
class ExportManifest:
    """What manifest-summary.json and manifest-files.json say about one export."""

    export_arn: str
    table_arn: str | None
    export_time_us: int
    item_count: int | None
    data_files: tuple[DataFile, ...] = field(default_factory=tuple)

    @property
    def table_name(self) -> str | None:
        return _arn_table(self.table_arn)

    @property
    def aws_region(self) -> str | None:
        parts = (self.table_arn or self.export_arn).split(":")
        return parts[3] if len(parts) > 3 and parts[3] else None

    def snapshot(self, key_attributes: Sequence[str] = DEFAULT_KEY_ATTRIBUTES, clock_margin_us: int = 0) -> Snapshot:
        """The snapshot the export's rows belong to: its time is ``exportTime`` less ``clock_margin_us``."""
        return Snapshot(
            source_id(self.export_arn),
            self.export_time_us - clock_margin_us,
            self.table_name,
            self.aws_region,
            tuple(key_attributes),
        )


def _arn_table(arn: str | None) -> str | None:
    if not arn or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0] or None


def parse_summary(data: bytes) -> dict[str, Any]:
    """manifest-summary.json as a dict, checked for what a backfill needs.

    Raises:
        SnapshotError: not JSON, not an object, a needed field missing or an unsupported output format.
    """
    try:
        summary = json.loads(data)
    except ValueError:
        raise SnapshotError(f"{SUMMARY_NAME} is not JSON") from None
    if not isinstance(summary, dict):
        raise SnapshotError(f"{SUMMARY_NAME} is not a JSON object")
    for name in ("exportArn", "exportTime"):
        if not isinstance(summary.get(name), str) or not summary[name]:
            raise SnapshotError(f"{SUMMARY_NAME} lacks {name}")
    output_format = summary.get("outputFormat", SUPPORTED_FORMAT)
    if output_format != SUPPORTED_FORMAT:
        raise SnapshotError(f"{SUMMARY_NAME}: outputFormat {output_format!r} is not supported; export as "
                            f"{SUPPORTED_FORMAT}")  # fmt: skip
    if summary.get("exportType", "FULL_EXPORT") != "FULL_EXPORT":
        raise SnapshotError(f"{SUMMARY_NAME}: only a FULL_EXPORT is a snapshot (an incremental export is not)")
    return summary


def parse_files(data: bytes) -> tuple[DataFile, ...]:
    """manifest-files.json: one JSON object per line.

    Raises:
        SnapshotError: a line that is not such an object (named by its 1-based number).
    """
    files = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise SnapshotError(f"{FILES_NAME} line {number} is not JSON") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("dataFileS3Key"), str):
            raise SnapshotError(f"{FILES_NAME} line {number} has no dataFileS3Key")
        count = entry.get("itemCount")
        files.append(
            DataFile(
                entry["dataFileS3Key"],
                count if isinstance(count, int) else None,
                entry.get("md5Checksum") if isinstance(entry.get("md5Checksum"), str) else None,
            )
        )
    return tuple(files)


def manifest_of(summary: Mapping[str, Any], files: Sequence[DataFile]) -> ExportManifest:
    count = summary.get("itemCount")
    return ExportManifest(
        export_arn=summary["exportArn"],
        table_arn=summary.get("tableArn") if isinstance(summary.get("tableArn"), str) else None,
        export_time_us=parse_time_us(summary["exportTime"]),
        item_count=count if isinstance(count, int) else None,
        data_files=tuple(files),
    )


def decompressed(data: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """A data file's content: gunzipped when it starts with the gzip magic, as it is otherwise.

    Raises:
        SnapshotError: a torn or corrupt gzip stream, or content above ``limit`` bytes once decompressed.
    """
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise SnapshotError("the data file is not valid gzip (torn or corrupt)") from None
    if len(out) > limit:
        raise SnapshotError(f"the data file is over {limit} bytes once decompressed")
    return out


def file_events(data: bytes, snapshot: Snapshot, file_key: str) -> Iterator[ChangeEvent | Rejection]:
    """The change events of one export data file (gzipped or not), one per non-blank line, in order; a line that
    is not ``{"Item": {...}}`` with the key attributes and decodable values becomes a :class:`Rejection` naming its
    0-based index. Counts add up: events + rejections = non-blank lines.

    Raises:
        SnapshotError: the file as a whole cannot be read (corrupt gzip, too big).
    """
    content = decompressed(data)
    index = 0
    for line in content.splitlines():
        if not line.strip():
            continue
        event_id = snapshot_event_id(snapshot.source, place_ref(file_key, index))
        yield _line_event(line, index, snapshot, event_id)
        index += 1


def _line_event(line: bytes, index: int, snapshot: Snapshot, event_id: str) -> ChangeEvent | Rejection:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Rejection.of(index, event_id, "malformed JSON", line)
    if not isinstance(obj, dict) or set(obj) != {"Item"}:
        return Rejection.of(index, event_id, 'expected {"Item": {...}} (an export line in DYNAMODB_JSON)', line)
    if _has_float(obj["Item"]):
        # orjson reads 1.5 as a float: a number must arrive as DynamoDB JSON text ({"N": "1.5"}).
        return Rejection.of(index, event_id, "a value is a JSON number; DynamoDB JSON writes numbers as text", line)
    try:
        return item_event(snapshot, obj["Item"], event_id)
    except SnapshotError as error:
        return Rejection.of(index, event_id, str(error), line)
    except Exception as error:  # a bug must not take the file's other lines down
        return Rejection.of(index, event_id, f"internal decoder error ({type(error).__name__})", line)


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def file_to_lines(data: bytes, snapshot: Snapshot, file_key: str) -> DecodedLines:
    """One data file as change-event NDJSON with rejection envelopes in place of bad lines (the NiFi processor's
    content), with the counts. ``DecodedLines.operations`` counts the snapshot items as INSERT.

    Raises:
        SnapshotError: the file as a whole cannot be read.
    """
    lines = []
    decoded = rejected = 0
    first_error = None
    for item in file_events(data, snapshot, file_key):
        if isinstance(item, Rejection):
            rejected += 1
            first_error = first_error or item.error
        else:
            decoded += 1
        lines.append(item.to_json())
    operations = {"INSERT": decoded, "MODIFY": 0, "REMOVE": 0}
    return DecodedLines(b"".join(line + b"\n" for line in lines), decoded, rejected, operations, first_error)


# --- S3 -----------------------------------------------------------------------------------------------------


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without surrounding slashes).

    Raises:
        SnapshotError: not an s3:// URL with a bucket.
    """
    if not url.startswith("s3://"):
        raise SnapshotError("the export location must be an s3:// URL (s3://bucket/prefix)")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise SnapshotError("the export location names no bucket (s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = s3.list_objects_v2(**kwargs)
        for entry in page.get("Contents", []):
            yield entry["Key"]
        if not page.get("IsTruncated"):
            return
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def find_summary(s3: Any, bucket: str, prefix: str) -> str:
    """The key of the one manifest-summary.json at or under ``prefix`` (the export prefix, or the export's own
    ``.../AWSDynamoDB/<ExportId>`` directory).

    Raises:
        SnapshotError: none, or several exports (then name the one to load).
    """
    search = f"{prefix}/" if prefix else ""
    found = [k for k in _list_keys(s3, bucket, search) if k.rsplit("/", 1)[-1] == SUMMARY_NAME]
    if not found:
        raise SnapshotError(f"no {SUMMARY_NAME} under s3://{bucket}/{search}: give the export's prefix, and wait "
                            "until the export is COMPLETED (DescribeExport)")  # fmt: skip
    if len(found) > 1:
        dirs = ", ".join(sorted(k.rsplit("/", 1)[0] for k in found)[:5])
        raise SnapshotError(f"{len(found)} exports under s3://{bucket}/{search}: give one of them ({dirs})")
    return found[0]


def _resolve(s3: Any, bucket: str, key: str, summary_key: str) -> str:
    """A key a manifest names: as written when it exists, else under the export's prefix (the AWS examples show
    the manifests' keys relative to the export prefix)."""
    prefix = summary_key.split(f"{EXPORT_DIRECTORY}/", 1)[0]
    candidates = [key] if key.startswith(prefix) else [key, prefix + key]
    for candidate in candidates:
        try:
            s3.head_object(Bucket=bucket, Key=candidate)
            return candidate
        except Exception as error:  # botocore ClientError 404: try the next form
            if _status(error) not in (403, 404):
                raise
    raise SnapshotError(f"the manifest names s3://{bucket}/{key}, which does not exist")


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def _get(s3: Any, bucket: str, key: str) -> bytes:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return bytes(body.read())
    finally:
        body.close()


def load_manifest(s3: Any, url: str) -> tuple[str, ExportManifest]:
    """(bucket, manifest) of the export at ``url`` (s3://bucket/prefix), data file keys resolved.

    Raises:
        SnapshotError: the layout or a manifest is not that of a complete DYNAMODB_JSON full export.
    """
    bucket, prefix = parse_s3_url(url)
    summary_key = find_summary(s3, bucket, prefix)
    summary = parse_summary(_get(s3, bucket, summary_key))
    files_key = summary.get("manifestFilesS3Key")
    if not isinstance(files_key, str) or not files_key:
        files_key = summary_key.rsplit("/", 1)[0] + "/" + FILES_NAME
    files_key = _resolve(s3, bucket, files_key, summary_key)
    files = [DataFile(_resolve(s3, bucket, f.key, summary_key), f.item_count, f.md5_checksum)
             for f in parse_files(_get(s3, bucket, files_key))]  # fmt: skip
    manifest = manifest_of(summary, files)
    listed = sum(f.item_count or 0 for f in files)
    counted = manifest.item_count is not None and all(f.item_count is not None for f in files)
    if counted and listed != manifest.item_count:
        raise SnapshotError(f"{FILES_NAME} lists {listed} items, {SUMMARY_NAME} says {manifest.item_count}")
    return bucket, manifest


def read_data_file(s3: Any, bucket: str, data_file: DataFile) -> bytes:
    return _get(s3, bucket, data_file.key)
