"""``tumorscope convert``: an input as a DICOM series, or a DICOM series as NIfTI."""

from __future__ import annotations

import argparse
from pathlib import Path

_EPILOG = """\
examples:
  tumorscope convert -i ../shared/data/lgg_mri_segmentation/kaggle_3m/TCGA_CS_4942_19970222 -o dcm/ --to dicom
  tumorscope convert -i brain.nii.gz -o dcm/ --to dicom --modality CT
  tumorscope convert -i dcm/ -o brain.nii.gz --to nifti

--to dicom reads a kaggle_3m patient folder, a NIfTI volume, a folder of slices or one image, and writes
OUT as one DICOM series (MR or CT Image Storage, 16-bit monochrome, one file per slice, fresh UIDs,
SeriesDescription "tumorscope convert of <name>", a pseudonymous patient id derived from the name).
Geometry is the NIfTI's; slices without geometry get 1 mm pixels and slices. RGB slices keep the channel
people read (FLAIR, channel 1, for kaggle_3m). --to nifti reads the DICOM series in -i and writes OUT
(.nii or .nii.gz). Outputs appear complete or not at all."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="an image, volume or patient folder as a DICOM series, and back to NIfTI",
        description="Convert inputs to a DICOM series (--to dicom) or a DICOM series to NIfTI (--to nifti), "
        "for tests, demos and sites without DICOM.", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-i", "--input", required=True, type=Path,
                   help="--to dicom: patient folder, NIfTI, slice folder or image; --to nifti: DICOM folder")
    p.add_argument("-o", "--out", required=True, type=Path, help="DICOM folder, or .nii/.nii.gz file")
    p.add_argument("--to", required=True, choices=("dicom", "nifti"), help="output format")
    p.add_argument("--modality", default="MR", choices=("MR", "CT"), help="DICOM storage class (default MR)")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from tumorscope.pacs.convert import to_dicom_series, to_nifti

    if args.to == "dicom":
        files = to_dicom_series(args.input, args.out, args.modality)
        print(f"{len(files)} DICOM file(s) ({args.modality}) written: {args.out}")
    else:
        print(f"NIfTI written: {to_nifti(args.input, args.out)}")
    return 0
