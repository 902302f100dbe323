"""Re-create the viewer's NiiVue asset, tumorscope/serve/viewer/vendor/niivue/, from the npm registry.

Usage: python scripts/fetch_niivue.py [--check]

`npm pack @niivue/niivue@VERSION` in a temporary folder, then: the prebuilt browser bundle (package/dist/index.js,
one self-contained ES module: no import statements, so no bundler) is checked against BUNDLE_SHA256 and copied
as niivue.js; LICENSE is written from NiiVue's BSD-2-Clause text (the npm tarball carries only the licence *name*,
so the text from github.com/niivue/niivue/blob/main/LICENSE is kept below) followed by the licence file of every
third-party package compiled into the bundle (found by the bundle's `// ../../node_modules/<pkg>/` source comments,
each `npm pack`ed at the version pinned in BUNDLED). The copy is committed, so installing tumorscope needs no npm;
this script only proves where it came from. `--check` re-creates into a temporary folder and compares with the
committed files instead of writing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

NIIVUE_VERSION = "0.69.0"
# npm's record of the tarball (`npm view @niivue/niivue@0.69.0 dist.integrity`), checked again here
TARBALL_INTEGRITY = "sha512-YMjQvJgD1W2b7DuoxkwlC4VxbrgIePRJ5qyQzXKxi2v2MBVg285P/CIQyg46oDDGDIcaNlbd+MhtO/edMbXJkA=="
BUNDLE = "package/dist/index.js"
BUNDLE_SHA256 = "d6c2be4feb1ad53b2ac76b4196da8d8fd2263b662b511c55ca0fd127eb6a6532"
BUNDLED = {  # packages compiled into dist/index.js, at the versions their licences are taken from
    "@lukeed/uuid": "2.0.1",
    "@ungap/structured-clone": "1.4.0",
    "@zarrita/storage": "0.2.0",
    "array-equal": "1.0.2",
    "fflate": "0.8.3",
    "gl-matrix": "3.4.3",
    "nifti-reader-js": "0.8.0",
    "numcodecs": "0.3.2",
    "zarrita": "0.5.4",
}
TARGET = Path(__file__).resolve().parents[1] / "tumorscope" / "serve" / "viewer" / "vendor" / "niivue"
NIIVUE_LICENSE = """\
BSD 2-Clause License

Copyright (c) 2021, Niivue
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""
_BUNDLED_SOURCE = re.compile(rb"^// \.\./\.\./node_modules/((?:@[^/\s]+/)?[^/\s]+)/", re.MULTILINE)
_LICENSE_NAME = re.compile(r"^package/(licen[cs]e|copying)(\.md|\.txt)?$", re.IGNORECASE)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_pack(spec: str, workdir: Path) -> tarfile.TarFile:
    """`npm pack SPEC` into ``workdir``; the tarball, opened (npm checks the registry's integrity record)."""
    out = subprocess.run(["npm", "pack", "--json", spec], cwd=workdir, check=True, capture_output=True, text=True)
    info = json.loads(out.stdout)[0]
    if spec.startswith("@niivue/") and info["integrity"] != TARBALL_INTEGRITY:
        raise SystemExit(f"{spec}: tarball integrity {info['integrity']} is not the recorded {TARBALL_INTEGRITY}")
    return tarfile.open(workdir / info["filename"])


def member(tar: tarfile.TarFile, name: str) -> bytes:
    extracted = tar.extractfile(name)
    if extracted is None:
        raise SystemExit(f"{name} is not a file in the tarball")
    return extracted.read()


def licence_text(package: str, version: str, workdir: Path) -> str:
    with npm_pack(f"{package}@{version}", workdir) as tar:
        names = [m.name for m in tar.getmembers() if _LICENSE_NAME.match(m.name)]
        if not names:
            raise SystemExit(f"{package}@{version} ships no licence file: record its licence by hand")
        return member(tar, names[0]).decode()


def build(workdir: Path) -> dict[str, bytes]:
    """The files of vendor/niivue/ by name, built from freshly packed tarballs in ``workdir``."""
    with npm_pack(f"@niivue/niivue@{NIIVUE_VERSION}", workdir) as tar:
        bundle = member(tar, BUNDLE)
        declared = json.loads(member(tar, "package/package.json"))["license"]
    if sha256(bundle) != BUNDLE_SHA256:
        raise SystemExit(f"{BUNDLE} of {NIIVUE_VERSION} has SHA-256 {sha256(bundle)}, not the recorded {BUNDLE_SHA256}")
    if declared != "BSD-2-Clause":
        raise SystemExit(f"NiiVue {NIIVUE_VERSION} declares licence {declared}, not BSD-2-Clause")
    found = {m.decode() for m in _BUNDLED_SOURCE.findall(bundle)}
    if found != set(BUNDLED):
        raise SystemExit(f"the bundle compiles in {sorted(found)}; BUNDLED lists {sorted(BUNDLED)}: update BUNDLED")
    parts = [f"NiiVue {NIIVUE_VERSION} (@niivue/niivue, dist/index.js), BSD-2-Clause:\n\n{NIIVUE_LICENSE}"]
    for package, version in sorted(BUNDLED.items()):
        parts.append(f"{package} {version}, compiled into the bundle:\n\n{licence_text(package, version, workdir)}")
    notice = "\n" + "-" * 78 + "\n\n"
    return {"niivue.js": bundle, "LICENSE": notice.join(parts).encode(), "VERSION": f"{NIIVUE_VERSION}\n".encode()}


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if shutil.which("npm") is None:
        print("npm is needed to re-create the asset (the committed copy needs none)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        files = build(Path(tmp))
    if argv == ["--check"]:
        stale = [name for name, data in files.items() if not (TARGET / name).is_file()
                 or (TARGET / name).read_bytes() != data]
        print("vendor/niivue matches npm" if not stale else f"differs from npm: {', '.join(stale)}")
        return 1 if stale else 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (TARGET / name).write_bytes(data)
        print(f"wrote {TARGET / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
