"""``tumorscope predict``: run a bundle on an image, a folder of slices, a DICOM series or a NIfTI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tumorscope.bundle.variants import RUNTIME_CHOICES
from tumorscope.errors import TumorscopeError

if TYPE_CHECKING:
    import numpy as np

    from tumorscope.bundle import Bundle
    from tumorscope.predict.inputs import PredictInput

DEFAULT_MODEL = "lgg-flair-seg"

_EPILOG = """\
examples:
  tumorscope predict -i ../shared/data/lgg_mri_segmentation/kaggle_3m/TCGA_CS_4942_19970222 -o out/
  tumorscope predict -i scan.nii.gz -o out/ --tta --min-size 100
  tumorscope predict -i DICOM_SERIES_FOLDER -o out/ --series 1.2.840...   (when the folder holds several series)
  tumorscope predict --model brain-mri-tumor-type -i images/ -o out/       (classification: predictions.csv)
  tumorscope predict --model brats-glioma-seg -i BraTS_CASE_FOLDER -o out/  (BraTS labels, region volumes)
  tumorscope predict -i ../shared/data/lgg_mri_segmentation/kaggle_3m -o out/ --workers 2   (an archive)
  tumorscope predict --engine ray --address auto -i cases.txt -o /shared/out/   (an archive on a Ray cluster)

Segmentation writes the mask in the input's family (NIfTI for volumes, PNG per slice for 2-D inputs),
for a DICOM series also dicom/seg.dcm (DICOM SEG), dicom/sr.dcm (measurement report) and dicom/overlay/
(Secondary Capture overlay series), overlays/ (prediction filled red with a yellow edge; ground truth as a green edge when the input has masks)
and summary.json (tumor found, probability, volume, components, slices involved).

An archive (a case list file, a folder of several kaggle_3m patients, or any folder of cases with --engine) is
predicted case by case into OUT_DIR/<case>/ with a summary OUT_DIR/archive.csv; finished cases are skipped, so
a rerun resumes a killed run (docs/scale.md)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="find and delineate tumors in new images with a bundled or trained model",
        description="Predict with a model on one input. Outputs are written atomically: all of OUT_DIR or nothing.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-i", "--input", required=True, type=Path, help="image, folder of slices, DICOM series, NIfTI")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT_DIR")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"bundle name or folder (default: {DEFAULT_MODEL})")
    p.add_argument("--series", help="DICOM SeriesInstanceUID when the folder holds several series")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test-time augmentation on/off (default: the bundle's own setting)")
    p.add_argument("--min-size", type=int, help="segmentation: drop components smaller than this many pixels")
    p.add_argument("--fill-holes", action="store_true", default=None, help="segmentation: fill holes in each slice")
    p.add_argument("--threshold", type=float, help="segmentation: probability threshold (default: the bundle's)")
    p.add_argument("--dicom", action=argparse.BooleanOptionalAction, default=None,
                   help="also write dicom/seg.dcm (DICOM SEG), dicom/sr.dcm (TID 1500 measurement report) and "
                        "dicom/overlay/ (Secondary Capture series) (default: on for a DICOM series; for another "
                        "input they reference a SYNTHETIC series made from it, written to dicom/source/)")
    p.add_argument("--runtime", choices=RUNTIME_CHOICES, default=None,
                   help="engine for the network: auto = the fastest verified exported variant (OpenVINO, then ONNX "
                        "Runtime; `tumorscope export`), else PyTorch (default: $TUMORSCOPE_RUNTIME or auto)")
    p.add_argument("--engine", choices=("local", "ray"),
                   help="predict an archive (a folder of cases or a text file of case paths): on this machine "
                        "(local, the default for archives) or on Ray")
    p.add_argument("--workers", type=int, default=1, help="archive: processes or Ray actors, each loading the "
                                                          "model once (default: 1)")
    p.add_argument("--threads", type=int, help="archive: torch threads per worker (default: CPUs / workers; "
                                                "1 is far faster when the cores are shared with other work)")
    p.add_argument("--batch-size", type=int, default=4, help="archive: cases per batch (default: 4)")
    p.add_argument("--address", help="archive with --engine ray: the Ray cluster to join (auto: the one "
                                      "`ray start` started here; default: a new local instance)")
    p.add_argument("--explain", metavar="METHOD", help="also write heatmaps: gradcam, gradcampp, saliency, ig or occlusion")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from tumorscope.bundle import load_bundle
    from tumorscope.predict.archive import is_archive
    from tumorscope.predict.inputs import read_input

    changes = {k: v for k, v in (("tta", args.tta), ("min_size", args.min_size), ("fill_holes", args.fill_holes),
                                 ("threshold", args.threshold)) if v is not None}
    if args.engine or is_archive(args.input):
        from tumorscope.predict.archive import run_archive

        if args.explain or args.series or args.dicom:
            raise TumorscopeError("--explain, --series and --dicom apply to one input, not to an archive")
        return run_archive(args, changes)
    bundle = load_bundle(args.model)
    bundle.runtime = args.runtime
    if args.out.exists() and args.out.is_file():
        raise TumorscopeError("output path exists and is a file", args.out)
    if "brats" in bundle.config:  # a BraTS region model reads one case folder of four modalities
        from tumorscope.predict.brats_case import predict_brats

        if changes.keys() - {"tta"} or args.explain or args.dicom:
            raise TumorscopeError("a BraTS region model takes --tta only (its post-processing is in the bundle)")
        tta = args.tta if args.tta is not None else bool(bundle.config["brats"].get("tta", False))
        summary = predict_brats(bundle, args.input, args.out, tta=tta)
        volumes = ", ".join(f"{r} {v['volume_ml']:.1f} mL" for r, v in summary["regions"].items())
        print(f"{'tumor found' if summary['tumor_found'] else 'no tumor found'} ({volumes}; "
              f"{len(summary['slices_with_tumor'])} slice(s), {summary['seconds']:.1f} s)")
    elif bundle.task == "segmentation":
        from tumorscope.predict.outputs import write_segmentation_result
        from tumorscope.predict.segmentation import segment

        inp = read_input(args.input, series_uid=args.series)
        post = replace(bundle.postprocess, **changes)
        prob, mask = segment(bundle, inp, post)
        summary = write_segmentation_result(bundle, inp, prob, mask, args.out, post,
                                            extra=_dicom_step(args, bundle, inp, mask))
        verdict = "tumor found" if summary["tumor_found"] else "no tumor found"
        size = (f"{summary['volume_mm3']:.0f} mm^3" if summary["volume_mm3"] is not None
                else f"{summary['volume_pixels']} pixels")
        print(f"{verdict} (max probability {summary['probability']:.2f}; {size}; "
              f"{summary['n_components']} component(s) on {len(summary['slices_with_tumor'])} slice(s))")
    else:
        from tumorscope.predict.outputs import write_classification

        write_classification(bundle, args.input, args.out, tta=args.tta)
    if args.explain:  # explain/ sits above predict/: the top-level CLI hands its step in (tumorscope/cli.py)
        explain = getattr(args, "explain_input", None)
        if explain is None:
            raise TumorscopeError("--explain needs the explain stage, which this installation lacks")
        explain(bundle, args.input, args.out / "explain", args.explain)
    print(f"results: {args.out}")
    return 0


def _dicom_step(args: argparse.Namespace, bundle: Bundle, inp: PredictInput, mask: np.ndarray
                ) -> Callable[[Path, dict[str, Any]], dict[str, Any]] | None:
    """The DICOM SEG + SR writer for a DICOM series input (``--dicom``, on by default for one), else None.
    pacs/ sits above predict/: the top-level CLI hands the writer in as ``args.dicom_outputs`` (tumorscope/cli.py)."""
    files = inp.volume.metadata.get("files") if inp.volume is not None else None
    if args.dicom is False or (args.dicom is None and not files):
        return None
    write = getattr(args, "dicom_outputs", None)
    if write is None:
        raise TumorscopeError("--dicom needs the pacs layer, which this installation lacks")
    # no source series (NIfTI, images): the writer makes a synthetic one from the input to reference
    return lambda folder, summary: write(files or None, mask, summary, bundle, folder / "dicom", source=args.input)
