"""Deduplication before splitting, from the leakage audit (``tumorscope.data.audit``).

Per duplicate group (exact copies and near copies - flips, rotations, re-encodings - joined together):

- files carrying different labels are all dropped (the picture's label is unknown);
- of pixel-identical files one representative is kept, the others are dropped;
- the remaining files of a group (near copies with different pixels, e.g. LC25000's augmented siblings)
  are kept but share one split group id, so a group never straddles train/val/test.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from tumorscope.data.audit import audit
from tumorscope.data.dataset import Dataset

log = logging.getLogger(__name__)

DUP_PREFIX = "dup:"  # group ids the deduplication gives images without a patient id
NEAR_THRESHOLD = 4  # bits of perceptual-hash distance, as the audit


@dataclass
class Dedup:
    dataset: Dataset  # what to split and train on
    report: dict[str, Any]  # counts (and files) of what was dropped and merged


def deduplicate(ds: Dataset, near_threshold: int = NEAR_THRESHOLD) -> Dedup:
    """Drop exact copies and label conflicts, merge near-copy groups into one split group each."""
    found = audit(ds.root, near_threshold=near_threshold)
    samples = list(ds.samples)
    index = {str(s.image): i for i, s in enumerate(samples)}

    def members(group: list[str]) -> list[int]:
        return sorted(index[f] for f in group if f in index)

    exact = [members(g) for g in found["exact_duplicate_groups"]]
    duplicates = [c for c in _components(len(samples), exact + [members(g) for g in found["near_duplicate_groups"]])
                  if len(c) > 1]
    conflicts = [c for c in duplicates if len({samples[i].label for i in c}) > 1]
    drop = {i for c in conflicts for i in c}
    exact_dropped = [i for g in exact for i in [j for j in g if j not in drop][1:]]
    drop.update(exact_dropped)
    kept = [i for i in range(len(samples)) if i not in drop]
    patients: dict[str, list[int]] = {}
    for i in kept:
        if (pid := samples[i].patient_id) is not None:
            patients.setdefault(pid, []).append(i)
    links = [[i for i in c if i not in drop] for c in duplicates] + list(patients.values())
    merged = []
    for comp in _components(len(samples), links):
        pids = {samples[i].patient_id for i in comp}
        if len(comp) < 2 or (len(pids) == 1 and None not in pids):  # single image, or one patient as it is
            continue
        gid = min((p for p in pids if p is not None), default=None) or f"{DUP_PREFIX}{min(str(samples[i].image) for i in comp)}"
        merged.append(sorted(str(samples[i].image) for i in comp))
        for i in comp:
            samples[i] = replace(samples[i], patient_id=gid)
    report = {
        "enabled": True,
        "near_threshold": near_threshold,
        "n_images_before": len(samples),
        "n_images_after": len(kept),
        "exact_duplicate_groups": len(exact),
        "near_duplicate_groups": len(found["near_duplicate_groups"]),
        "dropped_exact_copies": len(exact_dropped),
        "dropped_label_conflicts": len({i for c in conflicts for i in c}),
        "merged_groups": len(merged),
        "images_in_merged_groups": sum(len(g) for g in merged),
        "files_dropped_exact": sorted(str(samples[i].image) for i in exact_dropped),
        "label_conflict_groups": [sorted(str(samples[i].image) for i in c) for c in conflicts],
        "merged_group_files": sorted(merged),
    }
    log.info(
        "dedup: %d -> %d images (dropped %d exact copies, %d in label conflicts); %d duplicate groups "
        "(%d images) each kept inside one split part",
        report["n_images_before"], report["n_images_after"], report["dropped_exact_copies"],
        report["dropped_label_conflicts"], report["merged_groups"], report["images_in_merged_groups"],
    )
    return Dedup(Dataset(ds.root, ds.layout, [samples[i] for i in kept]), report)


def _components(n: int, groups: list[list[int]]) -> list[list[int]]:
    """Connected components of ``range(n)`` when the members of each group are linked (union-find)."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for g in groups:
        for m in g[1:]:
            a, b = find(g[0]), find(m)
            parent[max(a, b)] = min(a, b)
    comps: dict[int, list[int]] = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)
    return list(comps.values())


def training_dedup(ds: Dataset) -> Dedup:
    """The deduplication classification training applies (``--dedup``, the default): its splits are made on
    ``.dataset``, so ``datasets split --dedup`` and ``tumorscope ensemble`` rebuild the same dataset with it."""
    return deduplicate(ds, near_threshold=NEAR_THRESHOLD)


def summary_counts(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its file lists (for summaries and model cards)."""
    return {k: v for k, v in report.items() if not isinstance(v, list)}
