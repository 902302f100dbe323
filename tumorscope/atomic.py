"""Atomic writes: a file or folder appears complete or not at all, even when the process is killed.

The new content is written into a temporary beside the target, named
``.<target name>.<pid>.<8 random chars>.tmp``. A file replaces its target with one rename. A folder
replacing an existing folder is swapped in with one atomic exchange (Linux ``renameat2``
``RENAME_EXCHANGE``), after which the old content, now under the temporary name, is deleted; where
the exchange is not available the old folder is renamed aside first and restored by the next write
if a kill lands between the two renames. Every write first removes temporaries of killed runs in
the same folder: only names of this form whose process is gone (or whose process id was reused by
a process started after the temporary was last touched).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from tumorscope.errors import USER_OS_ERRNOS, TumorscopeError, printable

_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?P<token>[0-9a-f]{8})\.(?P<kind>tmp|old\.tmp)$")
_LEGACY_TMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # mkstemp names of earlier versions
_LEGACY_AGE_S = 24 * 3600
_NAME_MAX = 255
_USER_ERRNOS = USER_OS_ERRNOS | {errno.EEXIST, errno.ENOTEMPTY}  # a target in the way of the swap
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _temp_name(target: Path, kind: str = "tmp") -> Path:
    """``.<name>.<pid>.<random>.<kind>`` beside ``target``; a name too long for that is shortened
    (such a temporary is still cleaned when stale, but never restored onto its target)."""
    name = target.name
    room = _NAME_MAX - len(f"..{os.getpid()}.01234567.{kind}~".encode())
    if len(os.fsencode(name)) > room:
        name = os.fsdecode(os.fsencode(name)[:room]) + "~"
    return target.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}.{kind}")


def temp_beside(target: Path) -> Path:
    """A fresh temporary name beside ``target``, in the form :func:`clean_stale` removes once its process is
    gone: for callers that build something under it and rename it into place themselves."""
    return _temp_name(target)


def _write_error(exc: OSError, target: Path) -> TumorscopeError:
    return TumorscopeError(f"cannot write: {exc.strerror or exc}", target)


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), None when there is no such process."""
    try:
        return os.stat(f"/proc/{pid}").st_ctime
    except FileNotFoundError:
        return None
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:
        pass
    return 0.0  # alive (or unknowable): never stale by age


def _last_touched(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return time.time()


def is_stale(path: Path) -> bool:
    """True for a temporary of ours whose writing process is gone."""
    m = _TMP.match(path.name)
    if m is None:
        legacy = _LEGACY_TMP.match(path.name)
        return bool(legacy) and time.time() - _last_touched(path) > _LEGACY_AGE_S
    pid = int(m["pid"])
    if pid == os.getpid():
        return False
    started = _process_start(pid)
    return started is None or _last_touched(path) < started - 1.0


def remove(path: Path) -> None:
    """Delete a file or folder (not following a symlink); gone already is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale(parent: Path, legacy_name: str | None = None) -> list[Path]:
    """Remove temporaries of killed runs in ``parent``; older-style ones only for target ``legacy_name``.

    A ``.old.tmp`` left between the two renames of the fallback swap is moved back onto its target
    when the target is missing. Returns what was removed or restored.
    """
    done: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return done
    for entry in entries:
        m = _TMP.match(entry.name)
        if m is None:
            m = _LEGACY_TMP.match(entry.name)
            if m is None or m["name"] != legacy_name:
                continue
        if not is_stale(entry):
            continue
        target = parent / m["name"]
        if m.groupdict().get("kind") == "old.tmp" and not os.path.lexists(target):
            if m["name"].endswith("~"):  # maybe a shortened name: keep it rather than guess its target
                continue
            with contextlib.suppress(OSError):
                os.rename(entry, target)
                done.append(entry)
                continue
        remove(entry)
        done.append(entry)
    return done


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap ``a`` and ``b`` (both must exist); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def _swap_in(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target``; an existing folder (or a file replaced by a folder) is swapped out whole."""
    if not os.path.lexists(target) or not (target.is_dir() or tmp.is_dir()):
        os.replace(tmp, target)
        return
    if _exchange(tmp, target):
        remove(tmp)  # the old content, now under the temporary name
        return
    old = _temp_name(target, "old.tmp")
    os.rename(target, old)
    os.rename(tmp, target)
    remove(old)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    Works for files and folders (create the yielded path as either). On error the temporary is
    removed and ``path`` is untouched. Stale temporaries of killed runs are removed first.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(exc, target) from exc
    clean_stale(target.parent, target.name)
    tmp = _temp_name(target)
    try:
        yield tmp
        _swap_in(tmp, target)
    except OSError as exc:
        if exc.errno in _USER_ERRNOS:  # a path, a disk or a permission the user can fix
            raise _write_error(exc, target) from exc
        raise
    finally:
        if os.path.lexists(tmp):
            remove(tmp)


def write_text(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file atomically; a non-UTF-8 file name in ``text`` is written as ``\\xNN``."""
    with atomic_path(path) as tmp:
        tmp.write_text(printable(text), encoding="utf-8")


def write_json(path: str | Path, obj: object) -> None:
    """Write JSON atomically (indented, NaN written as null is the caller's job)."""
    import json

    write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: object) -> object:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
