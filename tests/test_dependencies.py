"""Every declared dependency is used: imported by tumorscope, or needed at runtime by a library that does."""

import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"pillow": "PIL", "scikit-learn": "sklearn", "scikit-image": "skimage", "imagehash": "imagehash",
                "simpleitk": "SimpleITK", "prometheus-client": "prometheus_client",
                "dicom-anonymizer": "dicomanonymizer", "dicomweb-client": "dicomweb_client",
                "pyradiomics": "radiomics", "pyyaml": "yaml"}
NEEDED_INDIRECTLY = {"einops": "MONAI's ViT (the `vit` classifier) imports it",
                     "python-multipart": "FastAPI parses the service's multipart uploads with it",
                     "psycopg": "SQLAlchemy's postgresql+psycopg driver for `tumorscope serve --db postgresql://`"}


def _dependencies() -> list[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower() for d in deps]


def test_every_dependency_is_imported_or_needed_indirectly():
    source = "\n".join(p.read_text() for p in (ROOT / "tumorscope").rglob("*.py"))
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", source, flags=re.M))
    unused = [d for d in _dependencies()
              if IMPORT_NAMES.get(d, d) not in imported and d not in NEEDED_INDIRECTLY]
    assert not unused, f"declared but never imported: {unused}"


def test_einops_is_really_needed_by_the_vit_classifier():
    """Building the ViT with einops made unimportable fails (run apart, so this session's modules stay)."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['einops'] = None\n"
            "from tumorscope.models import build_model\n"
            "try:\n    build_model('vit', 1, 2, width=16, size=32)\nexcept ImportError:\n    sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 3, done.stderr[-2000:]
