"""Downloads against a real HTTP server on 127.0.0.1 (Range support implemented here), and file:// URLs."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tumorscope.cli import main
from tumorscope.data.download import download_dataset, fetch, unpack
from tumorscope.errors import TumorscopeError

REPO = Path(__file__).resolve().parents[2]


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ds/a.txt", "alpha\n")
        z.writestr("ds/sub/b.txt", "beta " * 200)  # large enough that a partial download is meaningful
    return buf.getvalue()


ZIP = _zip_bytes()
SHA = hashlib.sha256(ZIP).hexdigest()


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    honour_range = True
    truncate = False  # send the full Content-Length but only half of the body, then hang up
    ranges: list[str | None]
    bytes_sent: int


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        data = self.server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        wanted = self.headers.get("Range")
        self.server.ranges.append(wanted)
        start = int(wanted.removeprefix("bytes=").split("-")[0]) if wanted and self.server.honour_range else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.truncate:
            body = body[: len(body) // 2]
            self.close_connection = True
        self.server.bytes_sent += len(body)  # counted before sending: the client may assert as soon as it has read
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.files = {"/x.zip": ZIP}
    srv.ranges, srv.bytes_sent = [], 0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _url(srv: _Server, path: str = "/x.zip") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def _dead_url() -> str:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/x.zip"


def test_full_download_unpacks_and_warns_when_unverified(server, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        out = download_dataset("busi", tmp_path / "busi", url=_url(server))
    assert out == tmp_path / "busi"
    assert (out / "ds" / "a.txt").read_text() == "alpha\n"
    assert (out / "ds" / "sub" / "b.txt").read_text() == "beta " * 200
    assert (out / "x.zip").read_bytes() == ZIP  # the archive is kept, so a re-run skips the download
    assert not list(out.glob("*.part")) and not list(out.glob(".*unpack*"))
    assert "NOT verified" in caplog.text and SHA in caplog.text
    download_dataset("busi", out, url=_url(server))
    assert server.ranges == [None]  # second run: no request at all


def test_resume_sends_range_and_only_fetches_the_rest(server, tmp_path):
    dest = tmp_path / "x.zip"
    Path(f"{dest}.part").write_bytes(ZIP[:300])
    assert fetch(_url(server), dest, sha256=SHA).read_bytes() == ZIP
    assert server.ranges == ["bytes=300-"]
    assert server.bytes_sent == len(ZIP) - 300
    assert not Path(f"{dest}.part").exists()


def test_server_ignoring_range_restarts_instead_of_appending(server, tmp_path):
    server.honour_range = False
    dest = tmp_path / "x.zip"
    Path(f"{dest}.part").write_bytes(b"garbage" * 10)
    assert fetch(_url(server), dest, sha256=SHA).read_bytes() == ZIP
    assert server.ranges == ["bytes=70-"] and server.bytes_sent == len(ZIP)


def test_complete_part_answered_416_is_kept(server, tmp_path):
    dest = tmp_path / "x.zip"
    Path(f"{dest}.part").write_bytes(ZIP)
    assert fetch(_url(server), dest, sha256=SHA).read_bytes() == ZIP
    assert server.bytes_sent == 0


def test_interrupted_download_keeps_part_and_resumes(server, tmp_path):
    server.truncate = True
    dest = tmp_path / "x.zip"
    with pytest.raises(TumorscopeError, match="run the same command again to resume"):
        fetch(_url(server), dest, sha256=SHA, timeout=5)
    kept = Path(f"{dest}.part").stat().st_size
    assert 0 < kept < len(ZIP) and not dest.exists()
    server.truncate = False
    assert fetch(_url(server), dest, sha256=SHA).read_bytes() == ZIP
    assert server.ranges[-1] == f"bytes={kept}-"


def test_checksum_mismatch_removes_part_and_names_file(server, tmp_path):
    dest = tmp_path / "x.zip"
    with pytest.raises(TumorscopeError, match="checksum mismatch") as err:
        fetch(_url(server), dest, sha256="0" * 64)
    assert str(dest) in str(err.value) and SHA in str(err.value)
    assert not dest.exists() and not Path(f"{dest}.part").exists()


def test_unreachable_server_gives_clear_error(tmp_path):
    url = _dead_url()
    with pytest.raises(TumorscopeError) as err:
        fetch(url, tmp_path / "x.zip", timeout=5)
    assert "cannot reach" in str(err.value) and url in str(err.value) and "--url file://" in str(err.value)


def test_http_error_status_is_reported(server, tmp_path):
    with pytest.raises(TumorscopeError, match="HTTP 404"):
        fetch(_url(server, "/missing.zip"), tmp_path / "m.zip", timeout=5)


def test_file_url_copy_resume_and_missing(tmp_path):
    src = tmp_path / "src" / "x.zip"
    src.parent.mkdir()
    src.write_bytes(ZIP)
    dest = tmp_path / "out" / "x.zip"
    dest.parent.mkdir()
    Path(f"{dest}.part").write_bytes(ZIP[:100])
    assert fetch(src.as_uri(), dest, sha256=SHA).read_bytes() == ZIP
    with pytest.raises(TumorscopeError, match="no such file"):
        fetch((tmp_path / "nope.zip").as_uri(), tmp_path / "nope.zip")


def test_unsupported_scheme(tmp_path):
    with pytest.raises(TumorscopeError, match="file:// URL"):
        fetch("ftp://127.0.0.1/x.zip", tmp_path / "x.zip")


def test_registration_and_kaggle_datasets_explain_where_to_get_them(tmp_path):
    with pytest.raises(TumorscopeError, match="registration") as err:
        download_dataset("brats", tmp_path)
    assert "synapse.org" in str(err.value) and "--url file://" in str(err.value)
    with pytest.raises(TumorscopeError, match="Kaggle account"):
        download_dataset("lgg-mri-segmentation", tmp_path)
    assert not any(tmp_path.iterdir())


def test_registered_checksum_applies_to_a_url_override(server, tmp_path):
    # breastmnist has a published MD5; a mirror serving other bytes must be refused.
    with pytest.raises(TumorscopeError, match="checksum mismatch: expected md5"):
        download_dataset("breastmnist", tmp_path, url=_url(server))


def test_unpack_rejects_non_archive(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TumorscopeError, match="not a valid archive"):
        unpack(bad, tmp_path)


def test_cli_download_exit_0(server, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TUMORSCOPE_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "tumorscope", "datasets", "download", "busi", "--to", str(tmp_path / "d")]
    proc = subprocess.run(cmd + ["--url", _url(server)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "d" / "ds" / "a.txt").is_file()
    assert "downloaded busi" in proc.stdout and "NOT verified" in proc.stderr


def test_cli_dead_url_exit_2_one_line(tmp_path, capsys):
    rc = main(["datasets", "download", "busi", "--to", str(tmp_path), "--url", _dead_url()])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("tumorscope: error: cannot reach http://127.0.0.1:")
