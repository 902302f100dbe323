"""``tumorscope features``: radiomics + LBP features of every slice (or image, or volume) and ROI of a dataset."""

from __future__ import annotations

import argparse
import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tumorscope.errors import TumorscopeError

if TYPE_CHECKING:
    from tumorscope.data.sample import Sample
    from tumorscope.features.extract import Options

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  tumorscope features --data ../shared/data/lgg_mri_segmentation -o lgg_tumor.csv
      (expert masks: tumor ROI of every slice; tumor-free slices get a row flagged roi_status=empty)
  tumorscope features --data ../shared/data/lgg_mri_segmentation --roi foreground -o lgg_brain.parquet
      (the brain of every slice: features for tumor-presence classification)
  tumorscope features --data NEW_PATIENT_DIR --roi predicted -o new.csv
      (no expert mask: the tumor the lgg-flair-seg bundle finds; --model picks another bundle)
  tumorscope features --data DIR --roi mask,whole --level volume --filters none -o vol.csv

what you get: one row per slice (2-D images: per image; volume files: per volume) and ROI. The first
columns identify it: patient_id, image_id, slice_index, label (from the layout: tumor/no_tumor from the masks,
the class folder...), roi, roi_status (ok / empty / unusable: too small for pyradiomics), roi_pixels; then
pyradiomics features named <image type>_<family>_<feature> (original_glcm_Contrast, wavelet-LH_firstorder_Mean,
log-sigma-1-0-mm-2D_glrlm_RunEntropy, original_shape2D_Perimeter...) and LBP histograms (lbp-P8-R1_uniform_bin00..09).
Rows with an empty ROI are kept with empty feature cells. The settings are written beside the table:
<table>.params.json (pyradiomics params, reusable with --params) and <table>.meta.json (what was run).
ROI modes, defaults and speed: docs/features.md."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features", help="radiomics (pyradiomics) and LBP features per slice/volume and ROI, as a table",
        description="Extract radiomics features (first-order, shape, GLCM, GLRLM, GLSZM, GLDM, NGTDM on the original, "
                    "wavelet and LoG images) and LBP histograms from every image of a dataset, per ROI.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", type=Path, help="a dataset folder, or one patient/case folder")
    p.add_argument("--kind", choices=("radiomics", "deep"), default="radiomics",
                   help="radiomics (pyradiomics + LBP) or deep: the --model bundle's penultimate-layer activations "
                        "pooled over the ROI (default: radiomics)")
    p.add_argument("--join", nargs="+", type=Path, metavar="TABLE",
                   help="instead of --data: join feature tables of the same data (e.g. radiomics and deep) on their "
                        "id columns into one (a row is ok when it is ok in every table)")
    p.add_argument("-o", "--out", type=Path, default=Path("features.csv"),
                   help="the table: .csv, or .parquet (needs pyarrow) (default: features.csv)")
    p.add_argument("--roi", default="mask", metavar="MODES",
                   help="mask (the expert mask), predicted (a segmentation bundle's mask: new patients), "
                        "foreground (brain/body: Otsu + largest component + holes filled), whole (every pixel); "
                        "several as mask,foreground (default: mask)")
    p.add_argument("--model", default="lgg-flair-seg",
                   help="bundle for --roi predicted and --kind deep (default: lgg-flair-seg)")
    p.add_argument("--level", choices=("auto", "slice", "volume"), default="auto",
                   help="a row per slice or per volume (default auto: 2-D files per slice, volume files per volume)")
    p.add_argument("--channel", default=None,
                   help="intensities: flair (kaggle_3m channel 1), gray (mean of RGB) or a channel number "
                        "(default: flair for kaggle_3m, gray otherwise)")
    p.add_argument("--filters", default="wavelet,log",
                   help="filtered images besides the original: wavelet, log, both (default) or none")
    p.add_argument("--log-sigma", default="1,3", help="LoG sigmas in mm (pixels for TIFF/PNG) (default: 1,3)")
    p.add_argument("--params", type=Path, help="a pyradiomics params file (YAML/JSON) instead of the defaults")
    p.add_argument("--no-lbp", dest="lbp", action="store_false", help="leave out the LBP histogram columns")
    p.add_argument("--jobs", type=int, default=0, help="worker processes, one patient each (default: all cores)")
    p.set_defaults(func=_cmd_features)


def _parse_rois(text: str) -> tuple[str, ...]:
    from tumorscope.features.extract import ROI_MODES

    modes = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    bad = [m for m in modes if m not in ROI_MODES]
    if not modes or bad:
        raise TumorscopeError(f"--roi {text!r}: choose from {', '.join(ROI_MODES)} (comma-separated)")
    return modes


def _parse_filters(text: str, sigmas: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names = {f.strip().lower() for f in text.split(",") if f.strip()} - {"none"}
    if names - {"wavelet", "log"}:
        raise TumorscopeError(f"--filters {text!r}: choose wavelet, log, both (wavelet,log) or none")
    try:
        values = tuple(float(s) for s in sigmas.split(",") if s.strip())
    except ValueError as exc:
        raise TumorscopeError(f"--log-sigma {sigmas!r}: give numbers in mm, e.g. 1,3") from exc
    if any(v <= 0 for v in values):
        raise TumorscopeError(f"--log-sigma {sigmas!r}: sigmas must be > 0")
    return tuple(sorted(names)), values


def _cmd_features(args: argparse.Namespace) -> int:
    from tumorscope.data import load_dataset
    from tumorscope.features import settings, table
    from tumorscope.features.extract import Options, check_model, default_jobs, extract_features
    from tumorscope.progress import progress

    table.check_output(args.out)
    if args.join:
        return _cmd_join(args)
    if args.data is None:
        raise TumorscopeError("give --data DIR (or --join TABLE TABLE...)")
    modes = _parse_rois(args.roi)
    filters, sigmas = _parse_filters(args.filters, args.log_sigma)
    if args.jobs < 0:
        raise TumorscopeError(f"--jobs {args.jobs}: give a number of processes >= 1 (0: all cores)")
    if args.params:
        params2d = params3d = settings.load_params(args.params)
    else:
        params2d, params3d = (settings.default_params(n, filters, sigmas) for n in (2, 3))
    dataset = load_dataset(args.data)
    if "mask" in modes and not any(s.masks for s in dataset.samples):
        raise TumorscopeError(f"--roi mask needs expert masks; this {dataset.layout} dataset has none "
                              "(use --roi predicted, foreground or whole)", args.data)
    if "predicted" in modes or args.kind == "deep":
        check_model(args.model, deep=args.kind == "deep")
    jobs = min(args.jobs or default_jobs(), max(1, len(dataset.by_patient())))
    channel = args.channel or ("flair" if dataset.layout == "lgg_kaggle3m" else "gray")
    options = Options(rois=modes, level=args.level, channel=channel, params2d=params2d, params3d=params3d,
                      model=args.model, lbp=args.lbp, threads=max(1, default_jobs() // jobs))
    n_patients = len(dataset.by_patient())
    units = f"{n_patients} patient(s)" if dataset.has_patients else "no patient ids: each image on its own"
    log.info("features of %d image(s), %s (%s layout), ROI %s, %d process(es)",
             len(dataset), units, dataset.layout, ",".join(modes), jobs)
    bar = iter(progress(range(n_patients), desc="patients", total=n_patients))
    start = time.perf_counter()
    if args.kind == "deep":
        rows, cpu = _deep(dataset.samples, options, args.model, lambda: next(bar, None))
    else:
        rows, cpu = extract_features(dataset.samples, options, jobs=jobs, on_patient=lambda: next(bar, None))
    wall = time.perf_counter() - start
    rows.sort(key=lambda r: (str(r["patient_id"]), str(r["image_id"]), r["slice_index"] or 0, modes.index(r["roi"])))
    names = table.write_table(rows, args.out)
    status = Counter(f"{r['roi']}:{r['roi_status']}" for r in rows)
    meta = {"kind": args.kind, "data": str(args.data), "layout": dataset.layout, "rois": list(modes), "level": args.level,
            "channel": channel, "model": args.model if "predicted" in modes or args.kind == "deep" else None,
            "filters": list(filters), "params_file": str(args.params) if args.params else None,
            "lbp": {"method": "uniform", "points": 8, "radius": 1} if args.lbp and args.kind == "radiomics" else None,
            "foreground_rule": "Otsu threshold of the volume, largest connected component, holes filled per slice",
            "empty_roi": "row kept, roi_status empty/unusable, features missing",
            "ibsi_families": settings.IBSI_FAMILIES, "versions": settings.versions(),
            "rows": len(rows), "columns": len(names), "patients": n_patients, "roi_status": dict(sorted(status.items())),
            "jobs": jobs, "wall_seconds": round(wall, 1), "worker_cpu_seconds": round(cpu, 1)}
    table.write_settings(args.out, {"2d": params2d, "3d": params3d}, meta)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(status.items()))
    print(f"{len(rows)} rows x {len(names)} columns ({counts}) in {wall:.0f} s -> {args.out}")
    return 0


def _deep(samples: list[Sample], options: Options, model: str, on_patient: Callable[[], object]
          ) -> tuple[list[dict[str, Any]], float]:
    """Deep-feature rows, one patient after another (torch uses every core)."""
    from tumorscope.features.deep import deep_rows
    from tumorscope.features.extract import bundle_for

    start = time.process_time()
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.group, []).append(s)
    rows: list[dict[str, Any]] = []
    for group in groups.values():
        rows += deep_rows(group, options, bundle_for(model))
        on_patient()
    return rows, time.process_time() - start


def _cmd_join(args: argparse.Namespace) -> int:
    from tumorscope.features import table

    rows, meta = table.join_tables(args.join)
    names = table.write_table(rows, args.out)
    table.write_settings(args.out, {"2d": meta.pop("params2d"), "3d": meta.pop("params3d")}, meta)
    print(f"{len(rows)} rows x {len(names)} columns (joined {len(args.join)} tables) -> {args.out}")
    return 0
