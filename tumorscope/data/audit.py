"""Leakage audit of a dataset folder: what inflates published results.

``audit(root, against=None)`` decodes every image once and reports, as JSON-ready lists sorted for
determinism (file paths as strings, as the layout found them under ``root``):

- ``exact_duplicate_groups``: files with identical decoded pixels (a gray picture stored as R=G=B counts
  as its one-channel self; JPEG ``L`` vs ``RGB`` encodings of one picture differ after decoding and are
  left to the near-duplicate search); ``byte_identical_groups``: files with identical bytes.
- ``near_duplicate_groups``: groups joined by perceptual hash (ImageHash ``phash`` of a gray version,
  under all 8 flips/90-degree rotations) within ``near_threshold`` bits that hold at least two *different*
  pixel contents; groups that are exact copies only are listed under exact duplicates alone. Images of
  the same patient are not paired by hash (neighbouring slices of a volume always look alike; splitting
  by patient handles them), only by identical pixels.
- ``cross_split_duplicate_groups``: duplicate groups (exact or near) whose files lie in different splits:
  the dataset's own split folders (``Sample.split``), or ``root`` vs ``against``.
- ``label_conflicts``: duplicate groups whose files carry different labels.
- ``patient_leaks``: ``{"patient_id", "splits", "files"}`` for each patient found in more than one split.
- ``size_mismatches``: ``[image, mask]`` pairs whose spatial sizes differ.
- ``unreadable``: ``{"file", "problem"}`` for empty files, files that fail to decode and constant images.

Splits are named by the split folder (``"Training"``); with ``against`` by ``"<root>"`` or
``"<root>:<split>"``, so a leak inside one folder's own splits is still reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.data.brats_cases import BRATS_LAYOUTS
from tumorscope.data.dataset import Dataset, load_dataset
from tumorscope.data.hashing import dihedral_phashes, file_digest, gray_uint8, near_pairs, pixel_digest
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.io import probe_image, read_image
from tumorscope.progress import progress

_EXAMPLES = 3  # examples per finding in the human summary
_EXAMPLE_FILES = 4  # files shown per example group
NO_SPLIT = "(no split)"


@dataclass
class _Entry:
    """What the audit keeps of one image after decoding it once."""

    file: str
    split: str
    label: str | None
    patient: str | None
    digest: str | None = None
    file_sha: str | None = None
    phashes: np.ndarray | None = None  # (8,) uint64, None for unreadable or constant images


def audit(root: str | Path, against: str | Path | None = None, near_threshold: int = 4) -> dict[str, Any]:
    """Audit the dataset at ``root`` (and ``against``, a second folder such as a test set)."""
    if near_threshold < 0:
        raise TumorscopeError(f"--near-threshold must be >= 0 bits, got {near_threshold}")
    datasets = [load_dataset(root)] + ([load_dataset(against)] if against is not None else [])
    if datasets[0].layout in BRATS_LAYOUTS:
        if against is not None:
            raise TumorscopeError("--against is not supported for BraTS datasets (cases are checked one by one)", root)
        from tumorscope.data.brats_audit import audit_brats

        return audit_brats(datasets[0])
    named = [(ds, str(ds.root) if against is not None else None) for ds in datasets]
    entries, unreadable, mismatches = _scan(named)
    report = _findings(entries, near_threshold)
    report["patient_leaks"] = _patient_leaks(named)
    report["size_mismatches"] = sorted(mismatches)
    report["unreadable"] = sorted(unreadable, key=lambda u: u["file"])
    return {
        "root": str(root),
        "against": str(against) if against is not None else None,
        "layout": datasets[0].layout,
        "against_layout": datasets[1].layout if against is not None else None,
        "n_images": len(entries),
        "near_threshold": near_threshold,
        "splits": dict(sorted(_count(e.split for e in entries).items())),
        "summary": _summary(report),
        **report,
    }


def _split_name(sample: Sample, side: str | None) -> str:
    if side is None:
        return sample.split or NO_SPLIT
    return side if sample.split is None else f"{side}:{sample.split}"


def _scan(named: list[tuple[Dataset, str | None]]) -> tuple[list[_Entry], list[dict[str, str]], list[list[str]]]:
    """Decode each image once: digests, perceptual hashes, unreadable files, image/mask size checks."""
    samples = {(str(s.image), side): (s, side) for ds, side in named for s in ds.samples}
    entries: list[_Entry] = []
    unreadable: list[dict[str, str]] = []
    mismatches: list[list[str]] = []
    for sample, side in progress(samples.values(), desc="audit: hashing images", total=len(samples)):
        entry = _Entry(str(sample.image), _split_name(sample, side), sample.label, sample.patient_id)
        entries.append(entry)
        problem = _empty(sample.image)
        if problem is None:
            try:
                array = read_image(sample.image).array
            except Exception as exc:  # noqa: BLE001 - any decoder failure is a finding, not a crash
                problem = f"cannot decode: {_reason(exc)}"
            else:
                entry.digest = pixel_digest(array)
                entry.file_sha = file_digest(sample.image)
                if array.size and array.min() == array.max():
                    problem = f"constant image (every pixel is {array.flat[0]})"
                else:
                    entry.phashes = dihedral_phashes(gray_uint8(array))
                shape = _plane_shape(array.shape[:-1])
                for mask in sample.masks:
                    mask_problem = _mask_problem(mask, shape)
                    if mask_problem == _MISMATCH:
                        mismatches.append([str(sample.image), str(mask)])
                    elif mask_problem is not None:
                        unreadable.append({"file": str(mask), "problem": mask_problem})
        if problem is not None:
            unreadable.append({"file": str(sample.image), "problem": problem})
    return entries, unreadable, mismatches


_MISMATCH = "size mismatch"


def _mask_problem(mask: Path, image_shape: tuple[int, ...]) -> str | None:
    """None when the mask header reads and matches the image's spatial size; else what is wrong."""
    problem = _empty(mask)
    if problem is not None:
        return problem
    try:
        shape = _plane_shape(tuple(probe_image(mask)["shape"][:-1]))
    except Exception as exc:  # noqa: BLE001 - reported as unreadable
        return f"cannot read mask header: {_reason(exc)}"
    return None if shape == image_shape else _MISMATCH


def _reason(exc: Exception) -> str:
    return exc.problem if isinstance(exc, TumorscopeError) else f"{type(exc).__name__}: {exc}"


def _empty(path: Path) -> str | None:
    try:
        return "empty file (0 bytes)" if path.stat().st_size == 0 else None
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"


def _plane_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Spatial shape without leading singleton axes, so a (1, Y, X) slice compares equal to (Y, X)."""
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    return tuple(int(s) for s in shape)


def _findings(entries: list[_Entry], near_threshold: int) -> dict[str, Any]:
    """Exact, byte-identical and near-duplicate groups, and which of them cross splits or labels."""
    exact = _groups_by(entries, lambda e: e.digest)
    byte_identical = _groups_by(entries, lambda e: e.file_sha)
    hashed = [i for i, e in enumerate(entries) if e.phashes is not None]
    uf = _UnionFind(len(entries))
    for group in exact:
        for i in group[1:]:
            uf.union(group[0], i)
    if hashed:
        hashes = np.stack([h for e in entries if (h := e.phashes) is not None])
        for a, b in near_pairs(hashes, near_threshold):
            first, second = entries[hashed[a]], entries[hashed[b]]
            if first.patient is None or first.patient != second.patient:  # neighbouring slices look alike
                uf.union(hashed[a], hashed[b])
    duplicates = [g for g in uf.groups() if len(g) > 1]
    near = [g for g in duplicates if len({entries[i].digest for i in g}) > 1]
    cross = [g for g in duplicates if len({entries[i].split for i in g}) > 1]
    conflicts = [g for g in duplicates if len({entries[i].label for i in g if entries[i].label is not None}) > 1]

    def files(groups: list[list[int]]) -> list[list[str]]:
        return sorted(sorted(entries[i].file for i in g) for g in groups)

    return {
        "exact_duplicate_groups": files(exact),
        "byte_identical_groups": files(byte_identical),
        "near_duplicate_groups": files(near),
        "cross_split_duplicate_groups": files(cross),
        "cross_split_exact_groups": files([g for g in exact if len({entries[i].split for i in g}) > 1]),
        "label_conflicts": files(conflicts),
    }


def _groups_by(entries: list[_Entry], key: Any) -> list[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(entries):
        if (k := key(e)) is not None:
            groups[k].append(i)
    return [g for g in groups.values() if len(g) > 1]


def _patient_leaks(named: list[tuple[Dataset, str | None]]) -> list[dict[str, Any]]:
    splits: dict[str, set[str]] = defaultdict(set)
    files: dict[str, set[str]] = defaultdict(set)
    for ds, side in named:
        for s in ds.samples:
            if s.patient_id is not None:
                splits[s.patient_id].add(_split_name(s, side))
                files[s.patient_id].add(str(s.image))
    return [
        {"patient_id": pid, "splits": sorted(splits[pid]), "files": sorted(files[pid])}
        for pid in sorted(splits)
        if len(splits[pid]) > 1
    ]


def _count(items: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


_SUMMARY_KEYS = (
    "exact_duplicate_groups",
    "byte_identical_groups",
    "near_duplicate_groups",
    "cross_split_duplicate_groups",
    "cross_split_exact_groups",
    "label_conflicts",
    "patient_leaks",
    "size_mismatches",
    "unreadable",
)


def _summary(report: dict[str, Any]) -> dict[str, int]:
    summary = {key: len(report[key]) for key in _SUMMARY_KEYS}
    summary["exact_duplicate_files"] = sum(len(g) for g in report["exact_duplicate_groups"])
    summary["near_duplicate_files"] = sum(len(g) for g in report["near_duplicate_groups"])
    return summary


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return list(out.values())


# --- human summary -----------------------------------------------------------------------------------

_ADVICE = {
    "exact_duplicate_groups": "keep one file per group (or keep each group inside one split) before splitting",
    "near_duplicate_groups": "look at a few: flipped/rotated copies and augmented siblings must stay in one split",
    "cross_split_duplicate_groups": "held-out scores are optimistic: drop the held-out copies or re-split by group",
    "label_conflicts": "one picture under two labels: check the labels, drop what you cannot resolve",
    "patient_leaks": "re-split by patient (tumorscope splits by Sample.group) or drop the leaked patients",
    "size_mismatches": "mask and image disagree in size: fix or drop the mask; never resize it blindly",
    "unreadable": "re-download or remove these files",
}
_TITLES = {
    "exact_duplicate_groups": "exact duplicates (identical pixels)",
    "near_duplicate_groups": "near duplicates (phash incl. flips/rotations, <= {t} bits)",
    "cross_split_duplicate_groups": "duplicate groups crossing splits",
    "label_conflicts": "duplicate groups with conflicting labels",
    "patient_leaks": "patients in more than one split",
    "size_mismatches": "image/mask size mismatches",
    "unreadable": "unreadable, empty or constant files",
}


def format_audit(report: dict[str, Any]) -> str:
    """A human summary: counts, the first few examples of each finding, and what to do about it."""
    if report["layout"] in BRATS_LAYOUTS:
        from tumorscope.data.brats_audit import format_brats_audit

        return format_brats_audit(report)
    both = report["against"] is not None
    roots = [Path(r).parent if both else Path(r) for r in (report["root"], report["against"]) if r is not None]
    source = report["root"] + (f" against {report['against']}" if report["against"] else "")
    splits = ", ".join(f"{k} {v}" for k, v in report["splits"].items())
    lines = [f"audit of {source}: {report['n_images']} images, layout {report['layout']} ({splits})"]
    s = report["summary"]
    for key, title in _TITLES.items():
        items = report[key]
        head = f"{title.format(t=report['near_threshold'])}: {len(items)}"
        if key == "exact_duplicate_groups":
            head += f" groups, {s['exact_duplicate_files']} files ({s['byte_identical_groups']} byte-identical groups)"
        elif key == "cross_split_duplicate_groups":
            head += f" ({s['cross_split_exact_groups']} of them exact copies)"
        lines.append(head)
        for item in items[:_EXAMPLES]:
            lines.append("    " + _describe(item, roots))
        if len(items) > _EXAMPLES:
            lines.append(f"    ... and {len(items) - _EXAMPLES} more (--json lists all)")
        if items:
            lines.append(f"  -> {_ADVICE[key]}")
    if not any(s[k] for k in _TITLES):
        lines.append("nothing found: no duplicates, leaks, mismatches or unreadable files")
    return "\n".join(lines)


def _describe(item: Any, roots: list[Path]) -> str:
    if isinstance(item, dict) and "patient_id" in item:
        return f"{item['patient_id']}: in {', '.join(item['splits'])} ({len(item['files'])} files)"
    if isinstance(item, dict):
        return f"{_short(item['file'], roots)}: {item['problem']}"
    shown = " = ".join(_short(f, roots) for f in item[:_EXAMPLE_FILES])
    return shown + (f" (+{len(item) - _EXAMPLE_FILES} more)" if len(item) > _EXAMPLE_FILES else "")


def _short(file: str, roots: list[Path]) -> str:
    """A path relative to its dataset root when that is shorter to read."""
    for root in roots:
        try:
            return str(Path(file).relative_to(root))
        except ValueError:
            continue
    return file
