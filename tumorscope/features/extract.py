"""Feature rows of a dataset: one row per slice (or image, or volume) and ROI, patients run in parallel.

Each patient's images are read, their ROIs made and their features computed in one worker process (joblib),
so ``--jobs N`` uses N cores. A row whose ROI is empty (``--roi mask`` on a tumor-free slice, a blank slice's
foreground) or too small for pyradiomics is KEPT, flagged in ``roi_status`` (``empty`` / ``unusable``) with
NaN features: every slice has its row, so a table joins the slice list whatever the ROI.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from tumorscope.data.sample import Sample
from tumorscope.data.volumes import SliceStack
from tumorscope.errors import TumorscopeError
from tumorscope.features import roi as rois
from tumorscope.features.lbp import lbp_columns, lbp_histogram
from tumorscope.features.radiomics_run import OK, radiomics_features
from tumorscope.features.settings import build_extractor

ROI_MODES = ("mask", "predicted", "foreground", "whole")
LEVELS = ("auto", "slice", "volume")
ID_COLUMNS = ("patient_id", "image_id", "slice_index", "label", "roi", "roi_status", "roi_pixels")


@dataclass(frozen=True)
class Options:
    """What to extract; the same for every patient (sent to each worker)."""

    rois: tuple[str, ...] = ("mask",)
    level: str = "auto"
    channel: str = "gray"
    params2d: dict[str, Any] = field(default_factory=dict)
    params3d: dict[str, Any] = field(default_factory=dict)
    model: str = "lgg-flair-seg"
    lbp: bool = True
    threads: int = 1  # torch threads per worker for --roi predicted


@dataclass
class Unit:
    """One volume's pixels ready for features: intensities (Z, Y, X) and, per ROI mode, its mask (Z, Y, X)."""

    stack: SliceStack
    volume: np.ndarray
    is_volume_file: bool
    masks: dict[str, np.ndarray] = field(default_factory=dict)


def extract_features(samples: list[Sample], options: Options, jobs: int = 1,
                     on_patient: Callable[[], object] | None = None) -> tuple[list[dict[str, Any]], float]:
    """(rows, CPU seconds the workers spent) for ``samples``, patients in parallel over ``jobs`` processes."""
    from joblib import Parallel, delayed

    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.group, []).append(s)
    rows: list[dict[str, Any]] = []
    cpu = 0.0
    results: Iterator[tuple[list[dict[str, Any]], float]]
    if jobs == 1:
        results = (patient_rows(g, options) for g in groups.values())
    else:
        results = Parallel(n_jobs=jobs, return_as="generator")(delayed(patient_rows)(g, options) for g in groups.values())
    for found, seconds in results:
        rows += found
        cpu += seconds
        if on_patient:
            on_patient()
    return rows, cpu


def patient_rows(samples: list[Sample], options: Options) -> tuple[list[dict[str, Any]], float]:
    """Rows of one patient's volumes (or images) and the CPU seconds they took."""
    start = time.process_time()
    rows = []
    for unit, _ in patient_units(samples, options):
        rows += _unit_rows(unit, options)
    return rows, time.process_time() - start


def patient_units(samples: list[Sample], options: Options) -> Iterator[tuple[Unit, str]]:
    """Each volume (or image) of ``samples`` with its ROI masks, and its row level (slice or volume)."""
    from tumorscope.data.volumes import load_stacks

    for stack in load_stacks(samples, with_masks="mask" in options.rois, desc="reading"):
        unit = _unit(stack, options)
        for mode in options.rois:
            unit.masks[mode] = _roi(unit, mode, options)
        yield unit, _level(unit, options)


def unit_ids(unit: Unit, level: str) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """The id columns of each row of a unit and the slices (z indices) it covers: per slice (slice_index: the
    layout's, or the 0-based z of a volume file) or one row for the volume."""
    stack = unit.stack
    if level == "slice":
        for z in range(unit.volume.shape[0]):
            sample = stack.samples[z] if not unit.is_volume_file else stack.samples[0]
            yield ({"patient_id": stack.patient_id, "slice_index": sample.slice_index if not unit.is_volume_file else z,
                    "image_id": sample.image.stem if not unit.is_volume_file else stack.id, "label": sample.label},
                   np.array([z]))
    else:
        yield ({"patient_id": stack.patient_id, "image_id": stack.id, "slice_index": None,
                "label": _volume_label([s.label for s in stack.samples])}, np.arange(unit.volume.shape[0]))


def _unit(stack: SliceStack, options: Options) -> Unit:
    from tumorscope.preprocess.channels import select_channels

    is_volume_file = stack.images.ndim == 5
    if is_volume_file:
        from tumorscope.predict.volumetric import as_volume

        stack = as_volume(stack)
    path = stack.samples[0].image if stack.samples else stack.id
    if options.channel.isdigit():
        if int(options.channel) >= stack.images.shape[-1]:
            raise TumorscopeError(f"has {stack.images.shape[-1]} channel(s); --channel {options.channel} is not one", path)
        chosen = stack.images[..., int(options.channel)]
    else:
        chosen = select_channels(stack.images, options.channel, path)[..., 0]
    return Unit(stack, chosen.astype(np.float32), is_volume_file)


def _roi(unit: Unit, mode: str, options: Options) -> np.ndarray:
    per_slice = _level(unit, options) == "slice"
    if mode == "mask":
        return unit.stack.require_masks()
    if mode == "foreground":
        return rois.foreground(unit.volume, per_slice=per_slice)
    if mode == "whole":
        return rois.whole(unit.volume)
    if mode == "predicted":
        return _predicted(unit, options)
    raise ValueError(f"unknown ROI mode {mode!r}")


def _level(unit: Unit, options: Options) -> str:
    """Rows per slice for 2-D images (kaggle_3m slices, BUSI images), per volume for volume files."""
    if options.level != "auto":
        return options.level
    return "volume" if unit.is_volume_file else "slice"


@cache
def bundle_for(model: str) -> Any:
    """The bundle ``model`` (name or folder), loaded once per process."""
    from tumorscope.bundle import load_bundle

    return load_bundle(model)


def check_model(model: str, deep: bool = False) -> None:
    """The bundle for ``--roi predicted`` exists and segments; for ``--kind deep`` it is a network (TumorscopeError
    naming it otherwise)."""
    bundle = bundle_for(model)
    if deep and bundle.is_classical:
        raise TumorscopeError(f"--kind deep needs a network bundle; {model} is a classical pipeline")
    if not deep and bundle.task != "segmentation":
        raise TumorscopeError(f"--roi predicted needs a segmentation bundle; {model} is a {bundle.task} bundle")


def _predicted(unit: Unit, options: Options) -> np.ndarray:
    """The bundle's post-processed tumor mask of the volume (tumorscope.predict, as ``tumorscope predict``)."""
    import torch

    from tumorscope.predict.inputs import PredictInput
    from tumorscope.predict.segmentation import segment

    torch.set_num_threads(options.threads)
    stack = unit.stack
    path = stack.samples[0].image.parent if stack.samples else Path(stack.id)
    family = "volume" if unit.is_volume_file else "slices"
    names = [s.image.stem for s in stack.samples] if family == "slices" else []
    inp = PredictInput(path, stack.images, family, names)
    _, mask = segment(bundle_for(options.model), inp)
    return mask.astype(bool)


def _unit_rows(unit: Unit, options: Options) -> list[dict[str, Any]]:
    """The rows of one volume: per slice or one for the volume (:func:`unit_ids`)."""
    spacing = tuple(float(s) for s in unit.stack.spacing)
    level = _level(unit, options)
    extractor = _extractor(options.params2d if level == "slice" else options.params3d)
    sp = spacing[:2] if level == "slice" else (spacing if len(spacing) == 3 else (*spacing[:2], 1.0))  # 1 apart
    rows = []
    for ids, keep in unit_ids(unit, level):
        z = slice(int(keep[0]), int(keep[-1]) + 1)
        for mode, mask in unit.masks.items():
            rows.append(_row(ids, mode, extractor, unit.volume[z], mask[z], sp, options))
    return rows


_EXTRACTORS: dict[str, Any] = {}


def _extractor(params: dict[str, Any]) -> Any:
    """One pyradiomics extractor per settings per process (building one validates the settings: slow)."""
    key = json.dumps(params, sort_keys=True)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = build_extractor(params)
    return _EXTRACTORS[key]


def _row(ids: dict[str, Any], mode: str, extractor: Any, volume: np.ndarray, mask: np.ndarray,
         spacing: tuple[float, ...], options: Options) -> dict[str, Any]:
    """One row: ids, ROI bookkeeping, pyradiomics features, LBP histogram. ``volume``/``mask`` are (Z, Y, X);
    one slice (Z = 1) is passed to pyradiomics as a 2-D image."""
    image, roi = (volume[0], mask[0]) if len(spacing) == 2 else (volume, mask)
    status, features = radiomics_features(extractor, image, roi, spacing)
    row: dict[str, Any] = {**ids, "roi": mode, "roi_status": status, "roi_pixels": int(mask.sum())}
    row.update(features)
    if options.lbp:
        row.update(lbp_histogram(volume, mask) if status == OK else dict.fromkeys(lbp_columns(), float("nan")))
    return row


def _volume_label(labels: list[str | None]) -> str | None:
    """A volume's label from its slices': the common one, else ``tumor`` when any slice has tumor."""
    known = {lab for lab in labels if lab is not None}
    if len(known) == 1:
        return known.pop()
    return "tumor" if "tumor" in known else None


def default_jobs() -> int:
    """All cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
