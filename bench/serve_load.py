"""Bounded load test of ``tumorscope serve``: segmentations per second, latency percentiles, errors and the
server's memory under ``--concurrency`` requests in flight for ``--seconds``.

Unless ``--url URL --token TOKEN`` names a running server, it starts one on 127.0.0.1 in a temporary data
dir (``python -m tumorscope users add bench --role clinician`` for the token, then ``tumorscope serve``),
waits for ``GET /healthz``, and always kills it at the end. Each request is ``POST /v1/predictions`` with one
real LGG FLAIR slice (``kaggle_3m``; every slice's bytes distinct, so the server's content-hash dedup never
answers from its cache while the slices last), ``model=lgg-flair-seg`` and ``Prefer: wait=30``; a 202 is
polled at ``GET /v1/predictions/{id}`` until done or failed. Latency is submit to done. Server RSS is the
``VmRSS`` sum of the server process and its children, after ``--warmup`` requests and at the end.

    python bench/serve_load.py [--seconds 60] [--concurrency 8] [--workers N] [--json out.json]
    python bench/serve_load.py --url http://127.0.0.1:8000 --token TOKEN [--pid SERVER_PID]

Exit status: 0 after a run (whether or not the targets were met), 1 when the server did not start, 2 when
the LGG data (``../shared/data`` or ``$TUMORSCOPE_DATA``) is absent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

MODEL = "lgg-flair-seg"
DATASET = "lgg_mri_segmentation"
# (summary key, how it is compared, bound): met when value <= bound, >= bound, or |value| <= bound
TARGETS = {"seg_per_s": (">=", 20.0), "p99_ms": ("<=", 250.0), "errors": ("<=", 0), "rss_change_pct": ("+-", 10.0)}
POLL_S = (0.02, 0.25)  # first and longest pause between polls of a queued prediction


def parse_token(output: str) -> str:
    """The API token in ``tumorscope users add``'s output: the last word of the line starting ``token:``."""
    for line in output.splitlines():
        words = line.split()
        if line.strip().lower().startswith("token:") and len(words) > 1:
            return words[-1]
    raise ValueError("no 'token: ...' line in the output of `tumorscope users add`")


def discover_slices(root: Path) -> list[Path]:
    """The FLAIR slice images (no masks) of a ``kaggle_3m`` dataset, interleaved across patients (each
    patient's first slice, then each one's second...) so any prefix mixes many patients."""
    from tumorscope.data.layouts import lgg_kaggle3m

    per_patient = [[image for _, image, _ in lgg_kaggle3m.slice_files(d)] for d in lgg_kaggle3m.patient_dirs(root)]
    depth = max((len(s) for s in per_patient), default=0)
    return [s[i] for i in range(depth) for s in per_patient if i < len(s)]


def distinct_payloads(paths: Sequence[Path], limit: int | None = None) -> list[tuple[str, bytes]]:
    """(file name, bytes) of up to ``limit`` files, skipping any whose bytes equal an earlier one's."""
    seen: set[str] = set()
    out = []
    for p in paths:
        data = p.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append((p.name, data))
            if limit is not None and len(out) >= limit:
                break
    return out


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float | None]:
    """``{"p50": ..}`` of the values (linear interpolation), None each when there are none."""
    if not values:
        return {f"p{q:g}": None for q in qs}
    return {f"p{q:g}": float(v) for q, v in zip(qs, np.percentile(np.asarray(values, float), qs))}


def summarize(latencies_s: Sequence[float], errors: Mapping[str, int], elapsed_s: float,
              rss_start_kib: int | None, rss_end_kib: int | None) -> dict[str, Any]:
    """The run's numbers: completed, errors (by kind), segmentations/s, latency ms, server RSS and change."""
    lat = {f"{k}_ms": None if v is None else round(v * 1000, 1) for k, v in percentiles(latencies_s).items()}
    change = None
    if rss_start_kib and rss_end_kib is not None:
        change = round(100 * (rss_end_kib - rss_start_kib) / rss_start_kib, 1)
    return {"completed": len(latencies_s), "errors": sum(errors.values()), "error_kinds": dict(errors),
            "elapsed_s": round(elapsed_s, 2), "seg_per_s": round(len(latencies_s) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            **lat, "rss_start_mib": _mib(rss_start_kib), "rss_end_mib": _mib(rss_end_kib), "rss_change_pct": change}


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


def targets_met(summary: Mapping[str, Any]) -> dict[str, bool | None]:
    """For each target, whether the summary meets it (None when the number is unknown)."""
    met: dict[str, bool | None] = {}
    for key, (how, bound) in TARGETS.items():
        v = summary.get(key)
        met[key] = None if v is None else (v >= bound if how == ">=" else v <= bound if how == "<=" else abs(v) <= bound)
    return met


def format_table(summary: Mapping[str, Any]) -> str:
    """The summary as an aligned table with each target and whether it was met."""
    met = targets_met(summary)
    rows = [("metric", "value", "target", "met")]
    for key in ("completed", "errors", "seg_per_s", "p50_ms", "p95_ms", "p99_ms", "rss_start_mib", "rss_end_mib",
                "rss_change_pct"):
        value = summary.get(key)
        target = f"{TARGETS[key][0]} {TARGETS[key][1]:g}".replace("+- ", "±") if key in TARGETS else ""
        verdict = {True: "yes", False: "NO", None: "?"}[met[key]] if key in TARGETS else ""
        shown = "n/a" if value is None else str(value) if isinstance(value, int) else f"{value:g}"
        rows.append((key, shown, target, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if summary.get("error_kinds"):
        lines.append("error kinds: " + ", ".join(f"{k} x{n}" for k, n in sorted(summary["error_kinds"].items())))
    return "\n".join(lines)


def process_tree_rss_kib(pid: int) -> int | None:
    """``VmRSS`` (KiB) of ``pid`` plus all its descendants (uvicorn's workers), or None when it is gone.
    Read from /proc by hand: the one number needed does not warrant a dependency such as psutil."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError, ValueError):
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            p = int(status.parent.name)
            parents[p] = int(fields["PPid"])
            rss[p] = int(fields.get("VmRSS", "0 kB").split()[0])  # kernel threads have no VmRSS
    if pid not in rss:
        return None
    tree, frontier = {pid}, [pid]
    while frontier:
        children = [c for c, pp in parents.items() if pp in frontier and c not in tree]
        tree.update(children)
        frontier = children
    return sum(rss[p] for p in tree)


@dataclass
class Feed:
    """The payloads in turn, counting how many were sent again after all had been used (possible cache hits)."""

    payloads: list[tuple[str, bytes]]
    sent: int = 0

    def next(self) -> tuple[str, bytes]:
        item = self.payloads[self.sent % len(self.payloads)]
        self.sent += 1
        return item

    @property
    def repeats(self) -> int:
        return max(0, self.sent - len(self.payloads))


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def predict_once(client: httpx.AsyncClient, name: str, data: bytes, deadline: float) -> str | None:
    """Submit one slice and wait for its prediction: None when it is done, else what went wrong."""
    resp = await client.post("/v1/predictions", files={"file": (name, data, "image/tiff")}, data={"model": MODEL},
                             headers={"Prefer": "wait=30"})
    pause = POLL_S[0]
    while True:
        if not resp.is_success:
            return f"HTTP {resp.status_code}"
        body = resp.json()
        if not isinstance(body, dict):
            return "not a JSON object"
        if body.get("status") in ("done", "failed"):
            return None if body["status"] == "done" else "failed"
        if time.monotonic() > deadline:
            return "unfinished"
        await asyncio.sleep(pause)
        pause = min(2 * pause, POLL_S[1])
        resp = await client.get(f"/v1/predictions/{body['id']}")


async def _worker(client: httpx.AsyncClient, feed: Feed, tally: Tally, stop_at: float, last: float,
                  drain_s: float) -> None:
    while time.monotonic() < stop_at and feed.sent < last:
        name, data = feed.next()
        t0 = time.perf_counter()
        try:
            problem = await predict_once(client, name, data, deadline=stop_at + drain_s)
        except (httpx.HTTPError, ValueError, KeyError) as exc:  # transport error, or a body without JSON/id
            problem = type(exc).__name__
        if problem is None:
            tally.latencies_s.append(time.perf_counter() - t0)
        else:
            tally.errors[problem] += 1


async def run_load(url: str, token: str, feed: Feed, seconds: float, concurrency: int, drain_s: float,
                   requests: int | None = None) -> tuple[Tally, float]:
    """``concurrency`` clients sending predictions for ``seconds`` (or until ``requests`` were sent); those
    still in flight ``drain_s`` later are cancelled and counted as errors. Returns the tally and the elapsed
    seconds."""
    tally = Tally()
    last = float("inf") if requests is None else feed.sent + requests
    timeout = httpx.Timeout(45.0, connect=10.0)  # above the 30 s the server may hold a request (Prefer: wait=30)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
                                 limits=httpx.Limits(max_connections=concurrency + 4)) as client:
        t0 = time.monotonic()
        stop_at = t0 + seconds
        tasks = [asyncio.create_task(_worker(client, feed, tally, stop_at, last, drain_s))
                 for _ in range(concurrency)]
        _, pending = await asyncio.wait(tasks, timeout=seconds + drain_s)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:  # each cancelled worker had one request in flight
            tally.errors["unfinished"] += len(pending)
        return tally, time.monotonic() - t0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    token: str
    pid: int | None


def _tumorscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "tumorscope", *args]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}):\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"the server did not answer /healthz with 200 within {timeout_s:g} s:\n{_tail(log)}")


def _tail(log: Path, n: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (its workers too), SIGKILL after 10 s."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait_s)
            return


@contextlib.contextmanager
def started_server(data_dir: Path, workers: int | None, startup_s: float) -> Iterator[Server]:
    """A ``tumorscope serve`` on a free 127.0.0.1 port with a fresh clinician account; killed on exit."""
    made = subprocess.run(_tumorscope("users", "add", "bench", "--role", "clinician", "--data-dir", str(data_dir)),
                          capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        raise RuntimeError(f"`tumorscope users add` failed ({made.returncode}): {made.stderr.strip()}")
    token = parse_token(made.stdout + "\n" + made.stderr)
    port, log = _free_port(), data_dir / "server.log"
    cmd = _tumorscope("serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
                      *(["--workers", str(workers)] if workers else []))
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc, log, startup_s)
        yield Server(url, token, proc.pid)
    finally:
        _kill(proc)


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to send requests (default 60)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    ap.add_argument("--workers", type=int, help="the started server's --workers")
    ap.add_argument("--warmup", type=int, default=16, help="requests before the measured run (default 16)")
    ap.add_argument("--drain", type=float, default=45.0, help="seconds to finish the requests in flight")
    ap.add_argument("--startup", type=float, default=300.0, help="seconds the server may take to start")
    ap.add_argument("--slices", type=int, help="load at most this many distinct slices (default: all)")
    ap.add_argument("--data", type=Path, help=f"the {DATASET} folder (default: the shared data)")
    ap.add_argument("--url", help="target this running server instead of starting one (needs --token)")
    ap.add_argument("--token", help="API token for --url")
    ap.add_argument("--pid", type=int, help="--url's server process, to read its RSS")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    a = ap.parse_args(argv)
    if bool(a.url) != bool(a.token):
        ap.error("--url and --token go together")
    return a


def _data_root(a: argparse.Namespace) -> Path | None:
    if a.data:
        return a.data if a.data.is_dir() else None
    from tumorscope.data.locate import shared_dataset

    return shared_dataset(DATASET)


def measure(server: Server, feed: Feed, a: argparse.Namespace) -> dict[str, Any]:
    """Warm up, read the server's RSS, run the load, read it again; the summary with the run's settings."""
    warm, _ = asyncio.run(run_load(server.url, server.token, feed, a.startup, a.concurrency, a.drain, a.warmup))
    rss_start = process_tree_rss_kib(server.pid) if server.pid else None
    load_avg = os.getloadavg()[0]
    tally, elapsed = asyncio.run(run_load(server.url, server.token, feed, a.seconds, a.concurrency, a.drain))
    rss_end = process_tree_rss_kib(server.pid) if server.pid else None
    out = summarize(tally.latencies_s, tally.errors, elapsed, rss_start, rss_end)
    out.update(warmup_errors=dict(warm.errors), load_avg_1min_at_start=round(load_avg, 2),
               distinct_slices=len(feed.payloads), repeated_slices=feed.repeats)
    return out


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    root = _data_root(a)
    if root is None:
        print(f"no LGG data: needs ../shared/data/{DATASET} (or $TUMORSCOPE_DATA/{DATASET}, or --data DIR); "
              "nothing was measured", file=sys.stderr)
        return 2
    feed = Feed(distinct_payloads(discover_slices(root), a.slices))
    if not feed.payloads:
        print(f"no kaggle_3m slices under {root}", file=sys.stderr)
        return 2
    from tumorscope.models.precision import cpu_description

    cpu = cpu_description()
    where = a.url or f"started here (workers {a.workers or 'default'})"
    print(f"tumorscope serve load: {a.seconds:g} s, {a.concurrency} in flight, model {MODEL}, server {where}")
    print(f"cpu: {cpu['processor']} ({cpu['cpu_count']} cores); {len(feed.payloads)} distinct slices from {root}")
    try:
        with contextlib.ExitStack() as stack:
            if a.url:
                server = Server(a.url.rstrip("/"), a.token, a.pid)
            else:
                data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tumorscope-serve-bench-")))
                server = stack.enter_context(started_server(data_dir, a.workers, a.startup))
            res = measure(server, feed, a)
    except (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    res.update(cpu=cpu, seconds=a.seconds, concurrency=a.concurrency, workers=a.workers, url=a.url)
    print(format_table(res))
    if res["repeated_slices"]:
        print(f"note: {res['repeated_slices']} request(s) reused a slice; the server may have answered them from "
              "its cache (use more --slices or fewer --seconds)")
    if a.json:
        from tumorscope.atomic import write_json

        write_json(a.json, res)
        print(f"written: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
