"""A throwaway Apache NiFi 2.x for the integration test: started from any NIFI_HOME, driven over its REST API.

The install at NIFI_HOME is never changed: it is copied into a temporary folder (about 250 MB), given a conf of its
own (HTTP on 127.0.0.1 at a free port, no login, a free bootstrap management port, the Python command), and the
freshly built ClaimFlow NARs go into its ``extensions/``. ``nifi.sh run`` runs in its own session, so stopping
kills NiFi, its bootstrap and every Python process it started, by process group id.
Standard library only, so it runs on any machine the tests run on.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_ID = "claimflow-it-nifi"
PYTHON_BUNDLE = {"group": "org.apache.nifi", "artifact": "python-extensions"}
JAVA_CANDIDATES = ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64")


class NiFiError(RuntimeError):
    """A REST call NiFi answered with an error status (names the call and NiFi's text)."""

    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"{method} {path} -> HTTP {status}: {text[:1500]}")
        self.status = status
        self.text = text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _set_property(path: Path, key: str, value: str) -> None:
    text = path.read_text()
    pattern = re.compile(r"^#?" + re.escape(key) + r"=.*$", re.M)
    text, count = pattern.subn(lambda _: f"{key}={value}", text, count=1)
    if not count:
        text += f"\n{key}={value}\n"
    path.write_text(text)


def still_loading(validation_error: str) -> bool:
    """A validation error NiFi shows while a Python processor's code is still loading (not a real problem)."""
    text = validation_error.lower()
    return any(phrase in text for phrase in ("initializ", "not yet", "in the process of loading"))


def java_home() -> str | None:
    for candidate in (os.environ.get("NIFI_JAVA_HOME"), os.environ.get("JAVA_HOME"), *JAVA_CANDIDATES):
        if candidate and (Path(candidate) / "bin" / "java").exists():
            return candidate
    return None


def nifi_version(home: Path) -> str:
    """The version of the NiFi at ``home``, from its framework NAR's file name."""
    for nar in sorted((home / "lib").glob("nifi-framework-nar-*.nar")):
        return nar.stem.removeprefix("nifi-framework-nar-")
    raise FileNotFoundError(f"{home} is not a NiFi 2.x install (no lib/nifi-framework-nar-*.nar)")


@dataclass
class NiFi:
    """One running instance. ``api`` calls the REST API; ``stop`` ends every process it started."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/nifi-api"

    # --- lifecycle -------------------------------------------------------------------------------------------

    @classmethod
    def start(cls, install: Path, instance: Path, nars: Iterable[Path], python: str, timeout: float = 600) -> NiFi:
        started = time.monotonic()
        shutil.copytree(install, instance, symlinks=True)
        for folder in ("work", "logs", "state", "flowfile_repository", "content_repository",
                       "provenance_repository", "database_repository"):
            shutil.rmtree(instance / folder, ignore_errors=True)
        (instance / "extensions").mkdir(exist_ok=True)
        for nar in nars:
            shutil.copy2(nar, instance / "extensions" / nar.name)
        port = free_port()
        props = instance / "conf" / "nifi.properties"
        settings = {
            "nifi.web.http.host": "127.0.0.1",
            "nifi.web.http.port": str(port),
            "nifi.web.https.host": "",
            "nifi.web.https.port": "",
            "nifi.remote.input.secure": "false",
            "nifi.remote.input.socket.port": "",
            "nifi.cluster.protocol.is.secure": "false",
            "nifi.sensitive.props.key": uuid.uuid4().hex,
            "nifi.python.command": python,
            "nifi.flow.configuration.archive.enabled": "false",
        }
        for key in ("nifi.security.keystore", "nifi.security.keystoreType", "nifi.security.keystorePasswd",
                    "nifi.security.keyPasswd", "nifi.security.truststore", "nifi.security.truststoreType",
                    "nifi.security.truststorePasswd", "nifi.security.user.authorizer",
                    "nifi.security.user.login.identity.provider"):
            settings[key] = ""
        for key, value in settings.items():
            _set_property(props, key, value)
        bootstrap = instance / "conf" / "bootstrap.conf"
        _set_property(bootstrap, "management.server.address", f"http://127.0.0.1:{free_port()}")
        _set_property(bootstrap, "java.arg.3", "-Xmx2g")
        env = dict(os.environ)
        home = java_home()
        if home is None:
            raise RuntimeError("no Java 21+ found: set NIFI_JAVA_HOME (NiFi 2.x needs Java 21 or newer)")
        env["JAVA_HOME"] = home
        env["PATH"] = f"{home}/bin:{env.get('PATH', '')}"
        log_file = instance / "nifi-run.out"
        with log_file.open("wb") as out:
            process = subprocess.Popen(
                [str(instance / "bin" / "nifi.sh"), "run"], cwd=instance, env=env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        nifi = cls(instance, port, process, log_file)
        try:
            nifi.wait_for("the REST API", lambda: nifi.api("GET", "/flow/about"), timeout, interval=2)
        except BaseException:
            nifi.stop()
            raise
        nifi.timings["start_s"] = round(time.monotonic() - started, 1)
        return nifi

    def stop(self) -> None:
        """SIGTERM to NiFi's process group (bootstrap, NiFi JVM, Python processes), SIGKILL after 60 s."""
        if self.process.poll() is not None:
            return
        pgid = os.getpgid(self.process.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # children that outlived the bootstrap
            os.killpg(pgid, signal.SIGKILL)

    def app_log(self) -> str:
        path = self.home / "logs" / "nifi-app.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- REST ------------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, raw: bool = False, data: bytes | None = None,
            content_type: str | None = None, timeout: float = 120) -> Any:
        headers = {"Accept": "*/*" if raw else "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise NiFiError(method, path, error.code, error.read().decode("utf-8", "replace")) from None
        if raw:
            return payload
        return json.loads(payload) if payload else None

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"NiFi exited (code {self.process.returncode}) while waiting for {what}")
            try:
                last = predicate()
            except (urllib.error.URLError, ConnectionError, OSError) as error:
                last = error
            except NiFiError as error:
                if error.status not in (404, 409, 503):
                    raise
                last = error
            else:
                if last:
                    return last
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"[:3000])

    @staticmethod
    def revision(version: int = 0) -> dict[str, Any]:
        return {"clientId": CLIENT_ID, "version": version}

    def root_id(self) -> str:
        return str(self.api("GET", "/flow/process-groups/root")["processGroupFlow"]["id"])

    def processor_types(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/flow/processor-types")["processorTypes"])

    def type_bundle(self, type_name: str, kind: str = "processor") -> dict[str, str]:
        if kind == "processor":
            items = self.processor_types()
        else:
            items = self.api("GET", "/flow/controller-service-types")["controllerServiceTypes"]
        for item in items:
            if item["type"] == type_name:
                return dict(item["bundle"])
        raise LookupError(f"NiFi has no {kind} type {type_name}")

    def create_group(self, parent: str, name: str) -> str:
        body = {"revision": self.revision(), "component": {"name": name, "position": {"x": 0.0, "y": 0.0}}}
        return str(self.api("POST", f"/process-groups/{parent}/process-groups", body)["id"])

    def create_processor(self, group: str, type_name: str, bundle: Mapping[str, str], name: str,
                         properties: Mapping[str, str | None] | None = None, schedule: str | None = None,
                         auto_terminate: Iterable[str] = ()) -> str:
        config: dict[str, Any] = {"properties": dict(properties or {}),
                                  "autoTerminatedRelationships": list(auto_terminate)}
        if schedule:
            config["schedulingPeriod"] = schedule
        body = {"revision": self.revision(), "component": {"type": type_name, "bundle": dict(bundle), "name": name,
                                                           "position": {"x": 0.0, "y": 0.0}, "config": config}}
        return str(self.api("POST", f"/process-groups/{group}/processors", body)["id"])

    def processor(self, pid: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/processors/{pid}")["component"])

    def update_processor(self, pid: str, properties: Mapping[str, str | None] | None = None,
                         auto_terminate: Iterable[str] | None = None) -> None:
        current = self.api("GET", f"/processors/{pid}")
        config: dict[str, Any] = {}
        if properties is not None:
            config["properties"] = dict(properties)
        if auto_terminate is not None:
            config["autoTerminatedRelationships"] = list(auto_terminate)
        body = {"revision": current["revision"], "component": {"id": pid, "config": config}}
        self.api("PUT", f"/processors/{pid}", body)

    def set_state(self, pid: str, state: str) -> None:
        current = self.api("GET", f"/processors/{pid}")
        self.api("PUT", f"/processors/{pid}/run-status", {"revision": current["revision"], "state": state})

    def wait_loaded(self, pid: str, own_properties: int, timeout: float = 420) -> dict[str, Any]:
        """Until NiFi's Python side has answered for a processor: its own descriptors are listed and it is no longer
        validating (a Python processor is created before its Python process has loaded it)."""

        def loaded() -> dict[str, Any] | None:
            component = self.processor(pid)
            descriptors = [d for d in component["config"].get("descriptors", {})
                           if d not in ("Record Reader", "Record Writer")]
            errors = component.get("validationErrors") or []
            if component.get("validationStatus") == "VALIDATING" or any(still_loading(e) for e in errors):
                return None
            return component if len(descriptors) >= own_properties else None

        return dict(self.wait_for(f"processor {pid} to load", loaded, timeout, 2))

    def create_funnel(self, group: str) -> str:
        body = {"revision": self.revision(), "component": {"position": {"x": 0.0, "y": 0.0}}}
        return str(self.api("POST", f"/process-groups/{group}/funnels", body)["id"])

    def connect(self, group: str, source: str, destination: str, relationships: Iterable[str],
                destination_type: str = "PROCESSOR") -> str:
        body = {"revision": self.revision(), "component": {
            "source": {"id": source, "groupId": group, "type": "PROCESSOR"},
            "destination": {"id": destination, "groupId": group, "type": destination_type},
            "selectedRelationships": list(relationships),
            "backPressureObjectThreshold": 100000, "backPressureDataSizeThreshold": "4 GB"}}
        return str(self.api("POST", f"/process-groups/{group}/connections", body)["id"])

    def create_service(self, group: str, type_name: str, name: str, properties: Mapping[str, Any]) -> str:
        body = {"revision": self.revision(), "component": {
            "type": type_name, "bundle": self.type_bundle(type_name, "service"), "name": name,
            "properties": dict(properties)}}
        return str(self.api("POST", f"/process-groups/{group}/controller-services", body)["id"])

    def enable_service(self, sid: str, timeout: float = 60) -> dict[str, Any]:
        entity = self.api("GET", f"/controller-services/{sid}")
        self.api("PUT", f"/controller-services/{sid}/run-status", {"revision": entity["revision"], "state": "ENABLED"})

        def enabled() -> dict[str, Any] | None:
            component = self.api("GET", f"/controller-services/{sid}")["component"]
            return component if component["state"] == "ENABLED" else None

        return dict(self.wait_for(f"service {sid} enabled", enabled, timeout))

    def queued(self, connection: str) -> int:
        status = self.api("GET", f"/flow/connections/{connection}/status")["connectionStatus"]
        return int(status["aggregateSnapshot"]["flowFilesQueued"])

    def list_queue(self, connection: str, content: bool = True) -> list[dict[str, Any]]:
        """Every FlowFile waiting in a connection: attributes and (unless ``content`` is false) content bytes."""
        request = self.api("POST", f"/flowfile-queues/{connection}/listing-requests")["listingRequest"]
        path = f"/flowfile-queues/{connection}/listing-requests/{request['id']}"
        listing = self.wait_for("a queue listing", lambda: (
            lambda r: r if r["finished"] else None)(self.api("GET", path)["listingRequest"]), 60, 0.5)
        self.api("DELETE", path)
        items = []
        for summary in listing.get("flowFileSummaries") or []:
            flowfile = self.api("GET", f"/flowfile-queues/{connection}/flowfiles/{summary['uuid']}")["flowFile"]
            item = {"attributes": flowfile["attributes"]}
            if content:
                path = f"/flowfile-queues/{connection}/flowfiles/{summary['uuid']}/content"
                item["content"] = self.api("GET", path, raw=True)
            items.append(item)
        return items

    def bulletins(self) -> list[dict[str, Any]]:
        board = self.api("GET", "/flow/bulletin-board?limit=1000")["bulletinBoard"]["bulletins"]
        return [b.get("bulletin", {}) for b in board]

    def upload_flow(self, parent: str, name: str, definition: bytes) -> str:
        """Import a flow definition as NiFi's canvas does ("Upload flow definition")."""
        boundary = uuid.uuid4().hex
        fields = {"groupName": name, "positionX": "0", "positionY": "0", "clientId": CLIENT_ID,
                  "disconnectedNodeAcknowledged": "false"}
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
                 for key, value in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}.json"\r\n'
                     "Content-Type: application/json\r\n\r\n".encode() + definition + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        created = self.api("POST", f"/process-groups/{parent}/process-groups/upload", data=b"".join(parts),
                           content_type=f"multipart/form-data; boundary={boundary}")
        return str(created["id"])
