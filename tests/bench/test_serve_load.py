"""The load benchmark of ``tumorscope serve``: its pure parts (token parsing, slice choice, percentiles,
summary, targets, the server's RSS), no server needed."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest

from bench import serve_load
from tests.synthetic import write_kaggle3m


@pytest.mark.parametrize("output, token", [
    ("created user 'bench' (clinician)\ntoken: tsk_abc123\nshown once: keep it\n", "tsk_abc123"),
    ("  Token: API token for bench:  tsk_x-y_z  \n", "tsk_x-y_z"),
])
def test_token_is_the_last_word_of_the_token_line(output, token):
    assert serve_load.parse_token(output) == token


@pytest.mark.parametrize("output", ["tokens: 3\n", "token:\n", "created user bench\n", ""])
def test_output_without_a_token_line_is_an_error(output):
    with pytest.raises(ValueError, match="token"):
        serve_load.parse_token(output)


def test_slices_are_flair_images_interleaved_across_patients(tmp_path):
    root = write_kaggle3m(tmp_path, n_patients=3, n_slices=2, size=16)
    slices = serve_load.discover_slices(root)
    assert [p.name for p in slices] == [
        f"TCGA_XX_{p:04d}_20000101_{n}.tif" for n in (1, 2) for p in range(3)
    ]  # no masks; each patient's 1st slice, then each one's 2nd


def test_payloads_skip_files_with_the_same_bytes_and_stop_at_the_limit(tmp_path):
    files = []
    for name, data in [("a.tif", b"one"), ("b.tif", b"two"), ("c.tif", b"one"), ("d.tif", b"three")]:
        (tmp_path / name).write_bytes(data)
        files.append(tmp_path / name)
    assert serve_load.distinct_payloads(files) == [("a.tif", b"one"), ("b.tif", b"two"), ("d.tif", b"three")]
    assert [n for n, _ in serve_load.distinct_payloads(files, limit=2)] == ["a.tif", "b.tif"]


def test_feed_cycles_and_counts_the_repeats():
    feed = serve_load.Feed([("a", b"1"), ("b", b"2")])
    assert [feed.next()[0] for _ in range(5)] == ["a", "b", "a", "b", "a"]
    assert feed.repeats == 3


def test_percentiles_interpolate_and_are_none_without_values():
    p = serve_load.percentiles([float(v) for v in range(1, 101)])
    assert p["p50"] == pytest.approx(50.5) and p["p95"] == pytest.approx(95.05) and p["p99"] == pytest.approx(99.01)
    assert serve_load.percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_summary_counts_rates_latencies_and_memory_change():
    s = serve_load.summarize([0.1, 0.2, 0.3], {"HTTP 500": 1, "failed": 2}, elapsed_s=2.0,
                             rss_start_kib=1000 * 1024, rss_end_kib=1100 * 1024)
    assert (s["completed"], s["errors"], s["seg_per_s"]) == (3, 3, 1.5)
    assert (s["p50_ms"], s["rss_start_mib"], s["rss_end_mib"], s["rss_change_pct"]) == (200.0, 1000.0, 1100.0, 10.0)
    assert s["p99_ms"] == 298.0  # rank 0.99 * (3 - 1) = 1.98 between 200 and 300 ms
    empty = serve_load.summarize([], {}, elapsed_s=60.0, rss_start_kib=None, rss_end_kib=None)
    assert empty["seg_per_s"] == 0.0 and empty["p99_ms"] is None and empty["rss_change_pct"] is None


def test_targets_are_met_inside_their_bounds_and_unknown_without_a_number():
    ok = {"seg_per_s": 20.0, "p99_ms": 250.0, "errors": 0, "rss_change_pct": -10.0}
    assert serve_load.targets_met(ok) == dict.fromkeys(ok, True)
    bad = {"seg_per_s": 19.9, "p99_ms": 250.1, "errors": 1, "rss_change_pct": 10.5}
    assert serve_load.targets_met(bad) == dict.fromkeys(bad, False)
    assert serve_load.targets_met({**ok, "rss_change_pct": None})["rss_change_pct"] is None


def test_table_shows_each_value_with_its_target_and_verdict():
    s = serve_load.summarize([0.3] * 10, {"HTTP 503": 2}, 1.0, 2048, 2048)
    rows = {line.split()[0]: line.split()[1:] for line in serve_load.format_table(s).splitlines()}
    assert rows["p99_ms"] == ["300", "<=", "250", "NO"]
    assert rows["seg_per_s"] == ["10", ">=", "20", "NO"]
    assert rows["rss_change_pct"] == ["0", "±10", "yes"]
    assert rows["errors"] == ["2", "<=", "0", "NO"] and rows["completed"] == ["10"]
    assert "HTTP 503 x2" in serve_load.format_table(s)


def test_server_rss_includes_its_child_processes():
    child = f"{sys.executable} -c 'import time; x = b\"1\" * 80_000_000; time.sleep(30)'"
    proc = subprocess.Popen(["sh", "-c", f"{child} & wait"], start_new_session=True)
    try:
        deadline, rss = time.monotonic() + 10, 0
        while time.monotonic() < deadline and (rss or 0) < 80_000:
            time.sleep(0.05)
            rss = serve_load.process_tree_rss_kib(proc.pid)
        own = int(next(ln for ln in open(f"/proc/{proc.pid}/status") if ln.startswith("VmRSS")).split()[1])
        assert rss is not None and rss >= 80_000 > 10 * own  # the shell is small; its python child is not
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert serve_load.process_tree_rss_kib(proc.pid) is None


def test_missing_data_exits_2_before_starting_anything(tmp_path, capsys):
    assert serve_load.main(["--data", str(tmp_path / "absent"), "--seconds", "1"]) == 2
    assert "no LGG data" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        serve_load.main(["--url", "http://127.0.0.1:1"])  # --url needs --token
    assert math.isfinite(serve_load.TARGETS["p99_ms"][1])
