"""atomic_path: a folder replaced while a real process is killed (-9) at random moments is always the old or
the new complete folder, and the temporaries the kills leave are removed by the next write."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tumorscope.atomic import atomic_path, clean_stale, is_stale, write_text

REPO = Path(__file__).resolve().parents[1]
N_FILES = 40

# Child: replace TARGET with a folder of N files all holding VERSION, slowly, forever (until killed).
_WRITER = """
import sys, time
from pathlib import Path
from tumorscope.atomic import atomic_path
target, n = Path(sys.argv[1]), int(sys.argv[2])
version = 0
while True:
    version += 1
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for i in range(n):
            (tmp / f"f{i:03d}.txt").write_text(f"{version}\\n" * 50)
            if i % 8 == 0:
                time.sleep(0.001)
    print(version, flush=True)
"""


def _complete_versions(target: Path) -> set[str]:
    """The versions a folder holds; a complete folder has N_FILES files of one version."""
    files = sorted(target.iterdir())
    assert len(files) == N_FILES, f"{len(files)} files in {target}"
    return {f.read_text().split("\n", 1)[0] for f in files}


def _temporaries(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def test_kill_9_at_random_moments_never_leaves_a_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_path(target) as tmp:  # the "old" folder
        tmp.mkdir()
        for i in range(N_FILES):
            (tmp / f"f{i:03d}.txt").write_text("0\n" * 50)
    rng = random.Random(25)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    deadline = time.monotonic() + 40
    while kills < 12 and time.monotonic() < deadline:
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(N_FILES)],
                                 stdout=subprocess.PIPE, env=env)
        time.sleep(0.25 + rng.random() * 0.6)  # import time, then somewhere inside a write or a swap
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        kills += 1
        versions = _complete_versions(target)
        assert len(versions) == 1, f"mixed versions {versions} after kill {kills}"
    assert kills >= 5
    # the next write cleans what the killed runs left and leaves only the new folder
    with atomic_path(target) as tmp:
        tmp.mkdir()
        for i in range(N_FILES):
            (tmp / f"f{i:03d}.txt").write_text("final\n")
    assert _complete_versions(target) == {"final"}
    assert _temporaries(tmp_path) == []


def test_only_our_stale_temporaries_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.{dead.pid}.0123abcd.tmp"
    stale.mkdir()
    live = tmp_path / f".out.{os.getppid()}.89abcdef.tmp"  # a running process's write in progress
    live.mkdir()
    mine = tmp_path / f".out.{os.getpid()}.deadbeef.tmp"
    mine.mkdir()
    foreign = tmp_path / ".cache.tmp"
    foreign.mkdir()
    user_file = tmp_path / ".notes.1.txt"
    user_file.write_text("keep")
    assert is_stale(stale) and not is_stale(live) and not is_stale(mine)
    removed = clean_stale(tmp_path, "out")
    assert removed == [stale]
    assert sorted(_temporaries(tmp_path)) == sorted([live.name, mine.name, foreign.name, user_file.name])


def test_a_pid_reused_after_the_temporary_was_written_counts_as_stale(tmp_path: Path) -> None:
    old = tmp_path / f".out.{os.getpid() - 0}.00000000.tmp"
    old.mkdir()
    os.utime(old, (1_000_000, 1_000_000))  # last touched long before any running process started
    parent_tmp = tmp_path / f".out.{os.getppid()}.11111111.tmp"
    parent_tmp.mkdir()
    os.utime(parent_tmp, (1_000_000, 1_000_000))
    assert is_stale(parent_tmp)
    assert not is_stale(old)  # our own process is never stale


def test_interrupted_fallback_swap_is_restored(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    aside = tmp_path / f".out.{dead.pid}.0123abcd.old.tmp"  # old folder renamed aside, then the kill
    aside.mkdir()
    (aside / "a.txt").write_text("old")
    new_tmp = tmp_path / f".out.{dead.pid}.fedcba98.tmp"
    new_tmp.mkdir()
    write_text(tmp_path / "other.txt", "x")  # any write into the parent repairs it
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert _temporaries(tmp_path) == []


def test_error_inside_leaves_the_old_folder_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a.txt").write_text("new")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "old"
    assert _temporaries(tmp_path) == []


def test_file_replaces_file_and_folder_replaces_file(tmp_path: Path) -> None:
    target = tmp_path / "t"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "x").write_text("dir")
    assert (target / "x").read_text() == "dir"
    assert _temporaries(tmp_path) == []


def test_write_text_keeps_non_utf8_names_readable(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.png")
    write_text(tmp_path / "p.csv", f"file\n{name}\n")
    assert (tmp_path / "p.csv").read_text(encoding="utf-8") == "file\ncaf\\xe9.png\n"


def test_unwritable_or_too_long_targets_are_clean_errors(tmp_path: Path) -> None:
    from tumorscope.errors import TumorscopeError

    with pytest.raises(TumorscopeError, match="too long"):
        write_text(tmp_path / ("x" * 300) / "a.txt", "x")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(TumorscopeError, match="cannot write"):
        write_text(tmp_path / "file" / "a.txt", "x")
    long_ok = tmp_path / ("y" * 250)  # a valid name whose temporary would exceed 255 bytes
    write_text(long_ok, "fine")
    assert long_ok.read_text() == "fine"
    assert _temporaries(tmp_path) == []
