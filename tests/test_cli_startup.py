"""``tumorscope --help`` and ``tumorscope COMMAND --help`` start without the heavy libraries (issue 29): each
stage's ``register()`` touches argparse only; torch, MONAI and the rest load inside the command that runs.
Asserted on the modules a fresh interpreter has loaded, not on time (time depends on the machine's load)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "monai", "scipy", "skimage", "pandas", "matplotlib", "PIL", "SimpleITK", "pydicom", "fastapi")

_PROBE = """
import contextlib, io, json, sys
from tumorscope.cli import build_parser
parser = build_parser()
commands = sorted(parser._subparsers._group_actions[0].choices)
for argv in [["--help"]] + [[c, "--help"] for c in commands]:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pass
    assert "usage:" in out.getvalue(), argv
print(json.dumps({"commands": commands, "heavy": [m for m in %r if m in sys.modules]}))
"""


def test_help_imports_no_heavy_library() -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,)], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": ""}, timeout=120, check=True)
    found = json.loads(proc.stdout)
    assert {"predict", "train", "evaluate", "explain", "serve", "report"} <= set(found["commands"])
    assert found["heavy"] == [], f"--help imported {found['heavy']}"
