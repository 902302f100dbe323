"""``tumorscope datasets inspect``: what a dataset folder holds, as a dict (JSON) or a readable table."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from tumorscope.data.brats_cases import BRATS_LAYOUTS
from tumorscope.data.dataset import Dataset, load_dataset
from tumorscope.data.sample import Sample
from tumorscope.errors import TumorscopeError
from tumorscope.io import probe_image, read_mask
from tumorscope.progress import progress

_TOP_SIZES = 10  # in the JSON; the table shows fewer
_TABLE_SIZES = 5


def inspect_dataset(root: str | Path, layout: str | None = None) -> dict[str, Any]:
    """Layout, counts (images, patients, classes, masks, boxes, split folders), sizes, dtypes, mask coverage.

    Image sizes, dtypes and modes come from headers only. Masks are read to measure coverage (mean fraction
    of pixels inside the mask over images whose mask is not empty); samples with masks but no label are
    counted as ``tumor``/``no_tumor`` by mask emptiness. Masks that cannot be read or merged are listed in
    ``mask_errors`` instead of failing the whole inspection.
    """
    ds = load_dataset(root, layout)
    if ds.layout in BRATS_LAYOUTS:
        from tumorscope.data.brats_inspect import inspect_brats

        return inspect_brats(ds)
    probes = [probe_image(s.image) for s in progress(ds.samples, "reading headers")]
    masks = _read_masks(ds.samples, [p["shape"][:-1] for p in probes])
    classes = Counter(
        s.label if s.label is not None else masks["classes"].get(i) for i, s in enumerate(ds.samples)
    )
    unlabelled = classes.pop(None, 0)
    sizes = Counter(_size(p["shape"][:-1]) for p in probes)
    return {
        "root": str(ds.root),
        "layout": ds.layout,
        "n_images": len(ds),
        "n_patients": len(ds.patients) if ds.has_patients else None,
        "per_patient": _per_patient(ds),
        "classes": dict(sorted(classes.items())),
        "unlabelled": unlabelled,
        "splits": dict(sorted(Counter(s.split for s in ds.samples if s.split is not None).items())),
        "n_masks": len({m for s in ds.samples for m in s.masks}),
        "n_boxes": sum(len(s.boxes) for s in ds.samples),
        "n_box_images": sum(1 for s in ds.samples if s.boxes),
        "image_sizes": dict(sizes.most_common(_TOP_SIZES)),
        "n_image_sizes": len(sizes),
        "dtypes": dict(Counter(str(p["dtype"]) for p in probes).most_common()),
        "modes": dict(Counter(str(p["mode"]) for p in probes).most_common()),
        "mask_coverage": masks["coverage"],
        "n_tumor_masks": masks["n_tumor"],
        "mask_errors": masks["errors"],
    }


def _size(spatial_shape: Any) -> str:
    """``WxH`` for 2-D, ``WxHxD`` for volumes (numpy order reversed, as ITK and image viewers give sizes)."""
    return "x".join(str(int(n)) for n in reversed(spatial_shape))


def _per_patient(ds: Dataset) -> dict[str, float] | None:
    """Min / median / max images per patient, or None when the dataset has no patient ids."""
    if not ds.has_patients:
        return None
    counts = list(Counter(s.patient_id for s in ds.samples if s.patient_id is not None).values())
    return {"min": min(counts), "median": statistics.median(counts), "max": max(counts)}


def _read_masks(samples: list[Sample], shapes: list[tuple[int, ...]]) -> dict[str, Any]:
    """Coverage over non-empty masks, tumor/no_tumor per sample index, and the masks that failed.

    ``shapes`` are the images' spatial shapes: a mask of another size is a failure too.
    """
    fractions, classes, errors = [], {}, []
    with_masks = [(i, s) for i, s in enumerate(samples) if s.masks]
    for i, s in progress(with_masks, "reading masks", total=len(with_masks)):
        try:
            mask = read_mask(list(s.masks), shape=shapes[i])
        except TumorscopeError as exc:
            errors.append(str(exc))
            continue
        classes[i] = "tumor" if mask.any() else "no_tumor"
        if mask.any():
            fractions.append(float(mask.mean()))
    return {
        "coverage": round(statistics.fmean(fractions), 6) if fractions else None,
        "n_tumor": len(fractions),
        "classes": classes,
        "errors": errors,
    }


def format_inspection(info: dict[str, Any]) -> str:
    """The dict of :func:`inspect_dataset` as a short aligned table."""
    if info["layout"] in BRATS_LAYOUTS:
        from tumorscope.data.brats_inspect import format_brats_inspection

        return format_brats_inspection(info)
    n = info["n_images"]
    rows: list[tuple[str, str]] = [
        ("dataset", info["root"]),
        ("layout", info["layout"]),
        ("images", str(n)),
        ("patients", _patients(info)),
        ("split folders", _counts(info["splits"], n) or "none"),
        ("classes", _counts(info["classes"], n) or "none"),
    ]
    if info["unlabelled"]:
        rows.append(("unlabelled", f"{info['unlabelled']} (no label or annotation)"))
    rows.append(("masks", f"{info['n_masks']} file(s)"))
    if info["n_boxes"]:
        rows.append(("boxes", f"{info['n_boxes']} on {info['n_box_images']} image(s)"))
    sizes = dict(list(info["image_sizes"].items())[:_TABLE_SIZES])
    more = info["n_image_sizes"] - len(sizes)
    rows += [
        ("image sizes (WxH)", _counts(sizes) + (f", {more} other size(s)" if more > 0 else "")),
        ("dtypes", _counts(info["dtypes"])),
        ("modes", _counts(info["modes"])),
    ]
    if info["mask_coverage"] is not None:
        rows.append(
            (
                "mask coverage",
                f"{100 * info['mask_coverage']:.2f}% of pixels (mean over {info['n_tumor_masks']} "
                "non-empty masks)",
            )
        )
    rows += [("mask problem", e) for e in info["mask_errors"]]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _patients(info: dict[str, Any]) -> str:
    if info["n_patients"] is None:
        return "none published (each image is its own group)"
    pp = info["per_patient"]
    return f"{info['n_patients']} (images per patient: min {pp['min']}, median {pp['median']:g}, max {pp['max']})"


def _counts(counts: dict[str, int], total: int | None = None) -> str:
    """``a: 3 (60.0%), b: 2 (40.0%)``; percentages only when a total is given."""
    return ", ".join(f"{k}: {v}" + (f" ({100 * v / total:.1f}%)" if total else "") for k, v in counts.items())
