"""Fuzz worker: reads each case in one process under an address-space cap and reports every outcome.

Run as ``python -m tests.fuzz.worker CASES RESULTS CAP_MB``: CASES holds one JSON object a line
(``{"path": <hex of os.fsencode(path)>, "op": "read" | "probe" | "mask" | "dataset"}``); RESULTS
receives one JSON line per case as soon as it finishes, after a ``start`` line, so the parent knows
which case was running if the process dies (an abort, a crash, a kill at the time limit).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def _op(op: str, path: Path) -> None:
    if op == "read":
        from tumorscope.io import read_image

        read_image(path)
    elif op == "probe":
        from tumorscope.io import probe_image

        probe_image(path)
    elif op == "mask":
        from tumorscope.io import read_mask

        read_mask(path)
    elif op == "dataset":
        from tumorscope.data.dataset import load_dataset
        from tumorscope.data.inspect import inspect_dataset
        from tumorscope.data.volumes import load_stacks

        inspect_dataset(path)
        ds = load_dataset(path)
        load_stacks([s for s in ds.samples if s.image.suffix.lower() in (".tif", ".tiff", ".png")][:12])
    elif op == "selftest_hang":  # the harness's own tests: a case that never ends, one that aborts
        time.sleep(3600)
    elif op == "selftest_abort":
        os.abort()
    elif op == "selftest_other":
        raise KeyError(str(path))
    else:
        raise ValueError(op)


def main(cases_file: str, results_file: str, cap_mb: int) -> None:
    # Import everything first, then cap the address space at what is mapped now + cap_mb.
    import nibabel  # noqa: F401
    import pydicom  # noqa: F401
    import SimpleITK  # noqa: F401
    import tifffile  # noqa: F401

    import tumorscope.data.inspect  # noqa: F401
    import tumorscope.io.dicom  # noqa: F401
    import tumorscope.io.nifti  # noqa: F401
    import tumorscope.io.raster  # noqa: F401
    from tumorscope.errors import TumorscopeError, display_path

    with open("/proc/self/statm") as f:
        vm_bytes = int(f.read().split()[0]) * resource.getpagesize()
    limit = vm_bytes + cap_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with open(cases_file) as cf, open(results_file, "a") as out:
        for i, line in enumerate(cf):
            case = json.loads(line)
            path = Path(os.fsdecode(bytes.fromhex(case["path"])))
            out.write(json.dumps({"start": i}) + "\n")
            out.flush()
            t0 = time.monotonic()
            result: dict[str, object] = {"i": i}
            try:
                _op(case["op"], path)
                result["status"] = "ok"
            except TumorscopeError as exc:
                result.update(status="error", message=str(exc), display=display_path(path))
            except BaseException as exc:  # noqa: BLE001 - exactly what the property forbids
                result.update(status="other", type=type(exc).__name__, message=str(exc)[:500])
            result["seconds"] = round(time.monotonic() - t0, 3)
            result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            out.write(json.dumps(result) + "\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
