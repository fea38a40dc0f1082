"""A TestRunner for ClaimFlow's NiFi Python processors, in the spirit of NiFi's Java ``TestRunner``.

It plays the Java side of NiFi 2.x (``PythonProcessorAdapter`` plus the ``FlowFileTransformProxy``,
``RecordTransformProxy`` and ``FlowFileSourceProxy``) against the stand-in ``nifiapi``:

- loads a processor file the way NiFi does (``spec_from_file_location(stem, path)``, registered under its bare
  file name, so relative imports fail as they would in NiFi) and instantiates it with ``jvm=...``;
- injects ``logger`` (a :class:`~claimflow_offline.logs.RecordingLogger`) and ``identifier`` after construction;
- relationships: the processor's ``getRelationships()`` or else ``success``, plus ``original`` (auto-terminated)
  and ``failure``;
- validation: required properties, allowable values, validators, dependencies, unknown properties,
  ``customValidate``;
- ``run()``: ``onScheduled`` then ``setContext``, one trigger per iteration (one queued FlowFile each, like the
  Java TestRunner), ``onStopped`` at the end;
- FlowFileTransform: exactly one output; an exception routes the input to ``failure``;
- RecordTransform: reads JSON records (optionally with NiFi's schema inference, ``infer_schema_like_nifi``),
  calls ``transformRecord`` per ~1 MB batch, groups results by (relationship, partition) into output FlowFiles
  with ``record.count``, ``mime.type`` and partition attributes; an exception discards every output and routes
  the input to ``failure``; the input then goes to ``original``.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import json
import sys
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from claimflow_offline import install_standin
from claimflow_offline.discovery import PROCESSOR_INTERFACES, is_processor_module
from claimflow_offline.logs import RecordingLogger
from claimflow_offline.records import ReaderSchema, WriterSchema, java_to_string, read_records, write_json_array

install_standin()

from nifiapi.componentstate import StateManager  # noqa: E402 - needs the stand-in on sys.path first
from nifiapi.properties import (  # noqa: E402
    OfflineComponentContext,
    ProcessContext,
    PropertyDescriptor,
    StandardValidators,
    ValidationContext,
    ValidationResult,
    dependencies_satisfied,
)
from nifiapi.relationship import Relationship  # noqa: E402

PROCESSORS_DIR = Path(__file__).resolve().parent.parent / "claimflow_processors"
FLOWFILE_TRANSFORM, RECORD_TRANSFORM, FLOWFILE_SOURCE = PROCESSOR_INTERFACES

REL_ORIGINAL = Relationship("original", "The original FlowFile, once transformed", auto_terminated=True)
REL_FAILURE = Relationship("failure", "The original FlowFile, when it could not be transformed")
REL_SUCCESS = Relationship("success", "All FlowFiles go here after being successfully processed")

JSON_TREE_READER = "JsonTreeReader"
JSON_RECORD_SET_WRITER = "JsonRecordSetWriter"
RECORD_READER = PropertyDescriptor(
    name="Record Reader",
    description="Specifies the Controller Service to use for reading incoming data",
    required=True,
    allowable_values=[JSON_TREE_READER],
    controller_service_definition="RecordReaderFactory",
)
RECORD_WRITER = PropertyDescriptor(
    name="Record Writer",
    description="Specifies the Controller Service to use for writing out the records",
    required=True,
    allowable_values=[JSON_RECORD_SET_WRITER],
    controller_service_definition="RecordSetWriterFactory",
)
_BATCH_BYTES = 1_000_000  # RecordTransformProxy hands Python about 1 MB of records per call


class ProcessorRuntimeError(RuntimeError):
    """NiFi would raise a ProcessException here (session rolled back, bulletin shown): a processor bug."""


_ids = itertools.count(1)


class MockFlowFile:
    """A FlowFile as the runner holds it: immutable content bytes and string attributes."""

    def __init__(self, content: bytes, attributes: Mapping[str, str] | None = None) -> None:
        self.id = next(_ids)
        self.content = bytes(content)
        self.attributes: dict[str, str] = {
            "uuid": str(uuid.uuid4()),
            "filename": f"{self.id}.flowfile",
            "path": "./",
        }
        self.attributes.update(attributes or {})

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def getAttribute(self, name: str) -> str | None:
        return self.attributes.get(name)

    def getAttributes(self) -> dict[str, str]:
        return dict(self.attributes)

    def records(self) -> list[dict[str, Any]]:
        """The content parsed as JSON records (an array, one object, or newline-delimited objects)."""
        return read_records(self.content)

    def modified(self, content: bytes | None = None, attributes: Mapping[str, str] | None = None) -> MockFlowFile:
        """The same FlowFile (same uuid) after ``session.write`` / ``putAllAttributes``."""
        changed = self.child(content, attributes)
        changed.attributes["uuid"] = self.attributes["uuid"]
        return changed

    def child(self, content: bytes | None = None, attributes: Mapping[str, str] | None = None) -> MockFlowFile:
        """A new FlowFile inheriting this one's attributes (new uuid), like ``session.create(parent)``."""
        inherited = {k: v for k, v in self.attributes.items() if k != "uuid"}
        inherited.update(attributes or {})
        return MockFlowFile(self.content if content is None else content, inherited)

    def assert_attribute_equals(self, name: str, value: str | None) -> None:
        actual = self.attributes.get(name)
        assert actual == value, f"attribute {name!r} is {actual!r}, expected {value!r}"

    def assert_attribute_exists(self, name: str) -> None:
        assert name in self.attributes, f"attribute {name!r} missing; have {sorted(self.attributes)}"

    def assert_attribute_not_exists(self, name: str) -> None:
        assert name not in self.attributes, f"attribute {name!r} unexpectedly present"

    def assert_content_equals(self, content: bytes | str) -> None:
        expected = content.encode() if isinstance(content, str) else content
        assert self.content == expected, f"content differs: {self.content[:200]!r} vs {expected[:200]!r}"

    def __repr__(self) -> str:
        return f"MockFlowFile(id={self.id}, size={self.size})"


class InputFlowFile:
    """What ``transform`` receives (NiFi's StandardInputFlowFile); valid only during the call."""

    def __init__(self, flowfile: MockFlowFile) -> None:
        self._flowfile: MockFlowFile | None = flowfile

    def _live(self) -> MockFlowFile:
        if self._flowfile is None:
            raise ProcessorRuntimeError("a FlowFile is only valid during the transform call that received it")
        return self._flowfile

    def getContentsAsBytes(self) -> bytes:
        return self._live().content

    def getContentsAsReader(self) -> _JavaBufferedReader:
        return _JavaBufferedReader(self._live().text)

    def getSize(self) -> int:
        return self._live().size

    def getAttribute(self, name: str) -> str | None:
        return self._live().attributes.get(name)

    def getAttributes(self) -> dict[str, str]:
        return dict(self._live().attributes)

    def close(self) -> None:
        self._flowfile = None

    def __str__(self) -> str:
        flowfile = self._flowfile
        if flowfile is None:
            return "FlowFile[closed]"
        attributes = flowfile.attributes
        return f"FlowFile[id={attributes.get('uuid')}, filename={attributes.get('filename')}, size={flowfile.size}]"


class _JavaBufferedReader:
    """Java's BufferedReader as Py4J shows it: ``readLine()`` returns None at the end."""

    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines())

    def readLine(self) -> str | None:
        return next(self._lines, None)

    def close(self) -> None:
        self._lines = iter(())


_module_cache: dict[tuple[Path, int], type] = {}


def processor_path(name: str, folder: Path = PROCESSORS_DIR) -> Path:
    """The file of processor ``name`` in ClaimFlow's processor folder.

    Raises:
        FileNotFoundError: there is no such processor file.
    """
    path = folder / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no processor file {path}")
    return path


def _load_module(path: Path) -> Any:
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _implemented_interfaces(cls: type) -> list[str]:
    java = getattr(cls, "Java", None)
    implements = getattr(java, "implements", None) if inspect.isclass(java) else None
    return [name for name in implements or [] if name in PROCESSOR_INTERFACES]


def load_processor_class(path: str | Path) -> type:
    """Load a processor file as NiFi's ExtensionManager does and return its processor class.

    Sibling non-processor modules of a package folder are loaded first (NiFi's "local dependencies"); the module
    is registered in ``sys.modules`` under its bare file name; the first class (by name) with an inner ``Java``
    implementing a processor interface is returned.

    Raises:
        ImportError: the file cannot be loaded or defines no processor class.
    """
    install_standin()
    file = Path(path).resolve()
    key = (file, file.stat().st_mtime_ns)
    if key in _module_cache:
        return _module_cache[key]
    if (file.parent / "__init__.py").is_file():
        for sibling in sorted(file.parent.glob("*.py")):
            if sibling.name != "__init__.py" and sibling != file and not is_processor_module(sibling):
                _load_module(sibling)
    module = _load_module(file)
    for _, member in inspect.getmembers(module, inspect.isclass):
        if _implemented_interfaces(member):
            _module_cache[key] = member
            return member
    raise ImportError(f"{file.name} defines no processor class")


def _is_method_defined(obj: Any, name: str) -> bool:
    return callable(getattr(obj, name, None))


class TestRunner:
    """Run one processor offline. See the module docstring for the semantics it reproduces.

    Args:
        processor: a processor class, a path to its file, or the bare name of a ClaimFlow processor.
        infer_schema_like_nifi: RecordTransform only: emulate the JSON Tree Reader's merged inferred schema (absent
            fields become null, int+double widen) and the writer inheriting the first record's schema per output.
        identifier: the component id injected as ``self.identifier``.
        record_writer_schema: RecordTransform only: an explicit Avro schema (dict or JSON text) for the Record
            Writer ("Use 'Schema Text' Property") instead of inheriting the first record's schema per output.
        suppress_missing: the JSON writer's "Suppress Missing Values" (fields absent from a record are left out).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        processor: type | str | Path,
        *,
        infer_schema_like_nifi: bool = False,
        identifier: str | None = None,
        record_writer_schema: Mapping[str, Any] | str | None = None,
        suppress_missing: bool = False,
    ) -> None:
        install_standin()
        if isinstance(processor, type):
            self.processor_class = processor
        else:
            candidate = Path(processor)
            if candidate.suffix != ".py":
                candidate = processor_path(str(processor))
            self.processor_class = load_processor_class(candidate)
        interfaces = _implemented_interfaces(self.processor_class)
        if not interfaces:
            raise TypeError(f"{self.processor_class.__name__} has no inner Java class implementing a processor")
        self.interface = interfaces[0]
        self.infer_schema_like_nifi = infer_schema_like_nifi
        self.suppress_missing = suppress_missing
        self.writer_schema = (
            None
            if record_writer_schema is None
            else WriterSchema.from_avro(
                record_writer_schema if isinstance(record_writer_schema, str) else dict(record_writer_schema),
                suppress_missing=suppress_missing,
            )
        )
        # NiFi's Controller does processorClass(jvm=gateway.jvm); then the adapter injects logger and identifier.
        self.processor = self.processor_class(jvm=None)
        self.logger = RecordingLogger()
        self.processor.logger = self.logger
        self.processor.identifier = identifier or str(uuid.uuid4())
        self.properties: dict[str, str] = {}
        if self.interface == RECORD_TRANSFORM:
            self.properties[RECORD_READER.name] = JSON_TREE_READER
            self.properties[RECORD_WRITER.name] = JSON_RECORD_SET_WRITER
        self.controller_services: dict[str, Any] = {}
        self.state_store: dict[Any, Any] = {}
        self.counters: dict[str, int] = {}
        self._auto_terminated: dict[str, bool] = {}
        self._queue: deque[MockFlowFile] = deque()
        self._transfers: dict[str, list[MockFlowFile]] = {}
        self._scheduled_context: OfflineComponentContext | None = None

    # --- configuration --------------------------------------------------------------------------------------

    def set_property(self, name: str | PropertyDescriptor, value: str) -> None:
        key = name if isinstance(name, str) else name.name
        if not isinstance(value, str):
            raise TypeError(f"property values are strings in NiFi; got {type(value).__name__} for {key!r}")
        self.properties[key] = value

    def remove_property(self, name: str | PropertyDescriptor) -> None:
        self.properties.pop(name if isinstance(name, str) else name.name, None)

    def set_auto_terminated(self, relationship: str, auto_terminated: bool = True) -> None:
        self._auto_terminated[relationship] = auto_terminated

    def add_controller_service(self, identifier: str, service: Any) -> None:
        self.controller_services[identifier] = service

    # --- model of the component -----------------------------------------------------------------------------

    def property_descriptors(self) -> list[PropertyDescriptor]:
        """Supported descriptors: the Java-side ones of a RecordTransform, the processor's, and dynamic ones."""
        descriptors: list[PropertyDescriptor] = []
        if self.interface == RECORD_TRANSFORM:
            descriptors += [RECORD_READER, RECORD_WRITER]
        if _is_method_defined(self.processor, "getPropertyDescriptors"):
            descriptors += list(self.processor.getPropertyDescriptors())
        known = {d.name for d in descriptors}
        if _is_method_defined(self.processor, "getDynamicPropertyDescriptor"):
            for name in self.properties:
                if name not in known:
                    dynamic = self.processor.getDynamicPropertyDescriptor(name)
                    if dynamic is not None:
                        descriptors.append(dynamic)
        return descriptors

    def relationships(self) -> dict[str, Relationship]:
        if _is_method_defined(self.processor, "getRelationships"):
            declared = list(self.processor.getRelationships())
        else:
            declared = [REL_SUCCESS]
        implicit = [REL_SUCCESS] if self.interface == FLOWFILE_SOURCE else [REL_ORIGINAL, REL_FAILURE]
        return {r.name: r for r in [*declared, *implicit]}

    def is_auto_terminated(self, relationship: str) -> bool:
        if relationship in self._auto_terminated:
            return self._auto_terminated[relationship]
        rel = self.relationships().get(relationship)
        return bool(rel and rel.auto_terminated)

    def _component_context(self) -> OfflineComponentContext:
        return OfflineComponentContext(
            self.property_descriptors(),
            self.properties,
            name=self.processor_class.__name__,
            state_manager=StateManager(self.state_store),
            controller_services=self.controller_services,
        )

    # --- validation ------------------------------------------------------------------------------------------

    def validate(self) -> list[ValidationResult]:
        """Every invalid result, as NiFi would show them on the processor (empty when valid)."""
        context = self._component_context()
        descriptors = context.descriptors
        lookup = {d.name: d for d in descriptors}
        values = context.value_lookup()
        problems: list[ValidationResult] = []
        cache: dict[str, bool] = {}
        for descriptor in descriptors:
            if not dependencies_satisfied(descriptor, lookup, values, cache):
                continue
            value = values.get(descriptor.name)
            subject = descriptor.displayName or descriptor.name
            if value is None:
                if descriptor.required:
                    problems.append(ValidationResult(subject, f"{subject} is required", False, None))
                continue
            problems += [r for r in descriptor.validate(value) if not r.valid]
        for name in self.properties:
            if name not in lookup:
                problems.append(ValidationResult(name, f"'{name}' is not a supported property", False, None))
        if _is_method_defined(self.processor, "customValidate"):
            try:
                results = self.processor.customValidate(ValidationContext(context)) or []
                problems += [r for r in results if not r.valid]
            except Exception as error:  # NiFi: "Failed to perform validation ... assuming invalid"
                problems.append(ValidationResult("Perform Validation", f"customValidate failed: {error!r}", False))
        return problems

    def assert_valid(self) -> None:
        problems = self.validate()
        assert not problems, f"processor is invalid: {problems}"

    def assert_not_valid(self) -> list[ValidationResult]:
        problems = self.validate()
        assert problems, "processor is valid, expected it not to be"
        return problems

    # --- queue and run --------------------------------------------------------------------------------------

    def enqueue(self, content: bytes | str = b"", attributes: Mapping[str, str] | None = None) -> MockFlowFile:
        data = content.encode("utf-8") if isinstance(content, str) else content
        for key, value in (attributes or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("FlowFile attribute names and values are strings")
        flowfile = MockFlowFile(data, attributes)
        self._queue.append(flowfile)
        return flowfile

    @property
    def queue_size(self) -> int:
        return len(self._queue)

    def schedule(self) -> None:
        """Validate, then ``onScheduled(context)`` and ``setContext(context)`` (NiFi's order).

        Raises:
            AssertionError: the processor is invalid (NiFi would not start it).
        """
        self.assert_valid()
        context = self._component_context()
        if _is_method_defined(self.processor, "onScheduled"):
            self.processor.onScheduled(ProcessContext(context))
        self.processor.setContext(context)
        self._scheduled_context = context

    def stop(self) -> None:
        if self._scheduled_context is None:
            return
        if _is_method_defined(self.processor, "onStopped"):
            self.processor.onStopped(ProcessContext(self._scheduled_context))
        self._scheduled_context = None

    def run(self, iterations: int = 1, stop_on_finish: bool = True, initialize: bool = True) -> None:
        """Trigger the processor ``iterations`` times; each trigger takes at most one queued FlowFile.

        Raises:
            AssertionError: the processor is invalid.
            ProcessorRuntimeError: NiFi would raise a ProcessException (e.g. routing to an unknown relationship).
        """
        if initialize and self._scheduled_context is None:
            self.schedule()
        elif self._scheduled_context is None:
            self.assert_valid()
            self.processor.setContext(self._component_context())
        try:
            for _ in range(iterations):
                self._trigger()
        finally:
            if stop_on_finish:
                self.stop()

    def run_until_empty(self, stop_on_finish: bool = True) -> None:
        """Run once per queued FlowFile (at least once)."""
        self.run(max(1, len(self._queue)), stop_on_finish=stop_on_finish)

    def _trigger(self) -> None:
        if self.interface == FLOWFILE_SOURCE:
            self._trigger_source()
            return
        if not self._queue:
            return
        flowfile = self._queue.popleft()
        if self.interface == RECORD_TRANSFORM:
            self._trigger_record_transform(flowfile)
        else:
            self._trigger_flowfile_transform(flowfile)

    def _check_relationship(self, name: Any) -> str:
        if not isinstance(name, str) or name not in self.relationships():
            raise ProcessorRuntimeError(f"{self.processor_class.__name__} routed to unknown relationship {name!r}")
        return name

    @staticmethod
    def _checked_attributes(attributes: Any) -> dict[str, str]:
        if attributes is None:
            return {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
            raise ProcessorRuntimeError("result attributes must map strings to strings")
        return dict(attributes)

    def _transfer(self, flowfile: MockFlowFile, relationship: str) -> None:
        self._transfers.setdefault(relationship, []).append(flowfile)

    def _trigger_flowfile_transform(self, flowfile: MockFlowFile) -> None:
        view = InputFlowFile(flowfile)
        try:
            result = self.processor.transformFlowFile(view)
        except Exception as error:
            self.logger.framework("error", "Failed to transform {}", str(view), error)
            self._transfer(flowfile, REL_FAILURE.name)
            return
        finally:
            view.close()
        if result is None:
            raise ProcessorRuntimeError(f"{self.processor_class.__name__}.transform returned None")
        relationship = result.getRelationship()
        attributes = self._checked_attributes(result.getAttributes())
        if relationship == REL_FAILURE.name:
            self._transfer(flowfile.modified(None, attributes), REL_FAILURE.name)
            return
        self._check_relationship(relationship)
        contents = result.getContents()
        if contents is not None and not isinstance(contents, (bytes, bytearray)):
            raise ProcessorRuntimeError("result contents must be bytes or str")
        self._transfer(flowfile.modified(None if contents is None else bytes(contents), attributes), relationship)
        if not self.is_auto_terminated(REL_ORIGINAL.name):
            self._transfer(flowfile.child(), REL_ORIGINAL.name)

    def _trigger_record_transform(self, flowfile: MockFlowFile) -> None:
        groups: dict[tuple[str, str], tuple[str, dict[str, Any] | None, list[dict[str, Any]]]] = {}
        try:
            records = read_records(flowfile.content)
            schema = None
            if self.infer_schema_like_nifi:
                schema = ReaderSchema(records)
                records = [schema.apply(r) for r in records]
            self.counters["Records Read"] = self.counters.get("Records Read", 0) + len(records)
            for batch in _batches(records):
                results = self.processor.transformRecord(batch, schema, flowfile)
                for result in results:
                    record_json = result.getRecordJson()
                    if record_json is None:
                        continue
                    record = json.loads(record_json)
                    partition = result.getPartition()
                    key = (result.getRelationship(), json.dumps(partition, sort_keys=True, default=str))
                    groups.setdefault(key, (result.getRelationship(), partition, []))[2].append(record)
                    self.counters["Record Written"] = self.counters.get("Record Written", 0) + 1
            outputs = [self._record_output(flowfile, *group) for group in groups.values()]
        except Exception as error:
            self.logger.framework(
                "error", "Failed to transform {}; routing to failure", str(InputFlowFile(flowfile)), error
            )
            self._transfer(flowfile, REL_FAILURE.name)
            return
        for relationship, _ in outputs:
            self._check_relationship(relationship)
        for relationship, output in outputs:
            self._transfer(output, relationship)
        self._transfer(flowfile, REL_ORIGINAL.name)

    def _record_output(
        self,
        parent: MockFlowFile,
        relationship: str,
        partition: dict[str, Any] | None,
        records: list[dict[str, Any]],
    ) -> tuple[str, MockFlowFile]:
        writer = self.writer_schema
        if writer is None and self.infer_schema_like_nifi:
            writer = WriterSchema(records[0], suppress_missing=self.suppress_missing)
        if writer is not None:
            records = [writer.apply(r) for r in records]
        attributes = {"record.count": str(len(records)), "mime.type": "application/json"}
        for key, value in (partition or {}).items():
            attributes[str(key)] = java_to_string(value)
        return relationship, parent.child(write_json_array(records), attributes)

    def _trigger_source(self) -> None:
        try:
            result = self.processor.createFlowFile()
        except Exception as error:
            self.logger.framework("error", "Failed to create FlowFile", error)
            return
        if result is None:
            return
        relationship = self._check_relationship(result.getRelationship())
        attributes = self._checked_attributes(result.getAttributes())
        self._transfer(MockFlowFile(result.getContents() or b"", attributes), relationship)

    # --- results --------------------------------------------------------------------------------------------

    def get_flowfiles_for(self, relationship: str) -> list[MockFlowFile]:
        return list(self._transfers.get(relationship, []))

    def transferred_counts(self) -> dict[str, int]:
        return {rel: len(flowfiles) for rel, flowfiles in self._transfers.items() if flowfiles}

    def assert_transferred(self, relationship: str, count: int) -> None:
        actual = len(self._transfers.get(relationship, []))
        counts = self.transferred_counts()
        assert actual == count, f"{actual} FlowFiles on {relationship!r}, expected {count}; all: {counts}"

    def assert_all_transferred(self, relationship: str, count: int | None = None) -> None:
        """Every transferred FlowFile (``original`` aside, as it is auto-terminated) went to ``relationship``."""
        others = {
            rel: n for rel, n in self.transferred_counts().items() if rel not in (relationship, REL_ORIGINAL.name)
        }
        assert not others, f"FlowFiles also went to {others}"
        if count is not None:
            self.assert_transferred(relationship, count)

    def assert_queue_empty(self) -> None:
        assert not self._queue, f"{len(self._queue)} FlowFiles still queued"

    def clear_transfer_state(self) -> None:
        self._transfers.clear()

    def log_text(self) -> str:
        return self.logger.text()

    def all_attribute_text(self) -> str:
        """Every attribute name and value of every transferred FlowFile, for PHI assertions."""
        return "\n".join(
            f"{key}={value}"
            for flowfiles in self._transfers.values()
            for flowfile in flowfiles
            for key, value in flowfile.attributes.items()
        )


def _batches(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    """JSON arrays of about 1 MB, as RecordTransformProxy hands them to Python."""
    batch: list[str] = []
    size = 0
    for record in records:
        text = json.dumps(record, separators=(",", ":"))
        batch.append(text)
        size += len(text)
        if size >= _BATCH_BYTES:
            yield "[" + ",".join(batch) + "]"
            batch, size = [], 0
    if batch:
        yield "[" + ",".join(batch) + "]"


__all__ = [
    "REL_FAILURE",
    "REL_ORIGINAL",
    "REL_SUCCESS",
    "MockFlowFile",
    "ProcessorRuntimeError",
    "StandardValidators",
    "TestRunner",
    "load_processor_class",
    "processor_path",
]
