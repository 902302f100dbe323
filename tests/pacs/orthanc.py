"""A throwaway Orthanc PACS for the tests, started from Debian's ``orthanc`` + ``orthanc-dicomweb`` packages.

``running_orthanc(tmp_dir)`` writes a JSON configuration (storage and index inside ``tmp_dir``, HTTP on a free
port with remote access refused, so only 127.0.0.1 is served, no authentication, the DICOM (DIMSE) server
disabled: Orthanc 1.10 has no bind-address option, so it would listen on every interface), starts ``Orthanc`` in its own process group, waits
for ``/system`` and yields an :class:`Orthanc` whose ``url`` is the DICOMweb root
(``http://127.0.0.1:PORT/dicom-web``); on exit it stops the server (SIGTERM, then SIGKILL). ``restart()`` stops
and starts it again on the same storage (for crash tests). ``orthanc_unavailable()`` says why none can start here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PLUGIN_DIRS = (Path("/usr/share/orthanc/plugins"), Path("/usr/lib/orthanc"))
PLUGIN_GLOB = "libOrthancDicomWeb.so*"
INSTALL_HINT = "make test installs them as root: apt-get install orthanc orthanc-dicomweb"
_START_TIMEOUT_S = 30
_STOP_TIMEOUT_S = 10
_START_TRIES = 3  # a free port can be taken by another process before Orthanc binds it


def orthanc_binary() -> Path | None:
    found = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if os.access("/usr/sbin/Orthanc", os.X_OK) else None)
    return Path(found) if found else None


def dicomweb_plugin() -> Path | None:
    for d in PLUGIN_DIRS:
        for p in sorted(d.glob(PLUGIN_GLOB)):
            if p.is_file():
                return p
    return None


def orthanc_unavailable() -> str | None:
    """Why no throwaway Orthanc can start here, or None when it can."""
    if orthanc_binary() is None:
        return f"Orthanc is not installed ({INSTALL_HINT})"
    if dicomweb_plugin() is None:
        return f"Orthanc's DICOMweb plugin is not installed ({INSTALL_HINT})"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Orthanc:
    """One Orthanc server on a folder of its own; ``url`` is its DICOMweb root, ``http`` its REST root."""

    def __init__(self, folder: Path) -> None:
        binary, plugin = orthanc_binary(), dicomweb_plugin()
        if binary is None or plugin is None:
            raise RuntimeError(orthanc_unavailable())
        self.binary, self.plugin, self.folder = binary, plugin, folder
        (folder / "storage").mkdir(parents=True, exist_ok=True)
        self.log = folder / "orthanc.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.http}/dicom-web"

    def _write_config(self) -> Path:
        config = {
            "Name": "tumorscope-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"),
            "HttpPort": self.port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": False,
            "Plugins": [str(self.plugin)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        }
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http}/system", timeout=2) as r:
                return r.status == 200 and "Version" in json.load(r)
        except (OSError, ValueError):
            return False

    def start(self, port: int | None = None) -> None:
        """Start on ``port`` or a fresh free port (the storage is kept); raises RuntimeError with the log's tail
        on failure."""
        for _ in range(_START_TRIES):
            self.port = port or _free_port()
            config = self._write_config()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen([str(self.binary), str(config)], stdout=log, stderr=log,
                                                stdin=subprocess.DEVNULL, cwd=self.folder, start_new_session=True)
            deadline = time.monotonic() + _START_TIMEOUT_S
            while time.monotonic() < deadline and self.process.poll() is None:
                if self._ready():
                    return
                time.sleep(0.1)
            self.stop()
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Orthanc did not start; its log ends:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server's process group: ``sig`` (SIGTERM), then SIGKILL after a grace period."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            proc.wait()

    def restart(self, sig: int = signal.SIGTERM, same_port: bool = False, down_s: float = 0.0) -> None:
        """Stop (``signal.SIGKILL`` simulates a crash), stay down ``down_s`` seconds and start again on the same
        storage, on the same port when ``same_port`` (clients keep their URL), else on a fresh one."""
        port = self.port
        self.stop(sig)
        time.sleep(down_s)
        self.start(port if same_port else None)


@contextmanager
def running_orthanc(tmp_dir: Path) -> Iterator[Orthanc]:
    """An Orthanc server storing into ``tmp_dir/orthanc`` for the duration of the block."""
    folder = Path(tmp_dir) / "orthanc"
    server = Orthanc(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
