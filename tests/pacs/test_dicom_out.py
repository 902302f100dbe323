"""DICOM SEG, TID 1500 SR and Secondary Capture overlay series of a segmentation of a DICOM series: read back with highdicom, checked by dciodvfy."""

from __future__ import annotations

import json
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes
from skimage.segmentation import find_boundaries

from tests.pacs.dicomcheck import dciodvfy_errors, seg_frames_by_slice
from tumorscope.bundle import load_bundle
from tumorscope.bundle.version import model_version, weights_sha256
from tumorscope.cli import main
from tumorscope.io import read_image
from tumorscope.pacs.convert import to_dicom_series
from tumorscope.pacs.dicom_out import write_dicom_outputs, write_overlay_series, write_seg, write_sr
from tumorscope.predict.lesions import lesions

MODEL = "lgg-flair-seg"


@pytest.fixture
def series(tmp_path: Path) -> list[Path]:
    """An oblique 8x10x6 MR series (0.9 x 0.9 x 3 mm, rotated about z), files in the reader's slice order."""
    c, s = np.cos(0.4), np.sin(0.4)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag([0.9, 0.9, 3.0])
    affine[:3, 3] = [12.0, -7.0, 40.0]
    data = (np.arange(8 * 10 * 6).reshape(8, 10, 6) % 97).astype(np.int16)
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "head.nii.gz")
    to_dicom_series(tmp_path / "head.nii.gz", tmp_path / "dcm")
    return [Path(f) for f in read_image(tmp_path / "dcm").metadata["files"]]


@pytest.fixture
def mask() -> np.ndarray:
    """(6 slices, 10 rows, 8 columns): lesion 1 on slices 1-2, lesion 2 on slice 4; slices 0, 3, 5 empty."""
    m = np.zeros((6, 10, 8), dtype=bool)
    m[1:3, 2:5, 1:4] = True
    m[4, 6:9, 5:7] = True
    return m


def _texts(ds: pydicom.Dataset) -> list[tuple[str, str]]:
    """(concept name, text) of every TEXT content item of an SR tree."""
    out = []
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "TEXT":
            out.append((item.ConceptNameCodeSequence[0].CodeMeaning, item.TextValue))
        out += _texts(item)
    return out


def test_seg_reads_back_voxel_for_voxel_on_the_right_slices(series: list[Path], mask: np.ndarray,
                                                            tmp_path: Path) -> None:
    bundle = load_bundle(MODEL)
    path = write_seg(series, mask, bundle, tmp_path / "seg.dcm")
    seg = hd.seg.segread(path)
    frames = seg_frames_by_slice(seg, series)
    assert sorted(frames) == [1, 2, 4]  # empty slices have no frame
    for k, frame in frames.items():
        np.testing.assert_array_equal(frame, mask[k])
    volume = seg.get_volume(combine_segments=True)  # the same through highdicom's geometry
    np.testing.assert_array_equal(volume.array.astype(bool).sum(), mask.sum())
    for item in seg.PerFrameFunctionalGroupsSequence:  # each frame sits where its source slice does
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        source = next(ds for ds in map(pydicom.dcmread, series) if ds.SOPInstanceUID == uid)
        position = item.PlanePositionSequence[0].ImagePositionPatient
        np.testing.assert_allclose([float(v) for v in position], [float(v) for v in source.ImagePositionPatient])
    orientation = seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient
    np.testing.assert_allclose([float(v) for v in orientation], [float(v) for v in source.ImageOrientationPatient])
    algo = seg.SegmentSequence[0].SegmentAlgorithmName, seg.SegmentSequence[0].SegmentAlgorithmType
    assert algo == (MODEL, "AUTOMATIC")
    ident = seg.SegmentSequence[0].algorithm_identification
    assert (ident.name, ident.version) == (MODEL, model_version(bundle))
    assert ident.parameters == {"weights_sha256": weights_sha256(bundle)}
    assert not dciodvfy_errors(path)


def test_sr_reports_volume_lesions_and_algorithm(series: list[Path], mask: np.ndarray, tmp_path: Path) -> None:
    bundle = load_bundle(MODEL)
    seg_path = write_seg(series, mask, bundle, tmp_path / "seg.dcm")
    vox = 0.9 * 0.9 * 3.0
    summary = {"volume_mm3": float(mask.sum() * vox), "lesions": lesions(mask, mask.astype(float), vox)}
    path = write_sr(seg_path, series, summary, bundle, tmp_path / "sr.dcm")
    sr = hd.sr.srread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert [str(g.tracking_identifier) for g in groups] == ["tumor", "lesion 1", "lesion 2"]
    volumes = [g.get_measurements(name=codes.SCT.Volume)[0] for g in groups]
    assert [m.value for m in volumes] == pytest.approx([mask.sum() * vox, 18 * vox, 6 * vox])
    count = [m for m in groups[0].get_measurements() if m.name.value == "LESIONCOUNT"]
    assert count[0].value == 2
    texts = _texts(sr)  # TID 4019 Algorithm Identification inside each measurement
    assert texts.count(("Algorithm Name", MODEL)) == 3 + 1  # three volumes and the count
    assert ("Algorithm Version", model_version(bundle)) in texts
    assert ("Algorithm Parameters", f"weights_sha256={weights_sha256(bundle)}") in texts
    seg = pydicom.dcmread(seg_path)
    refs = [g.referenced_segment[0].ReferencedSOPSequence[0] for g in groups]
    assert {(r.ReferencedSOPInstanceUID, r.ReferencedSegmentNumber) for r in refs} == {(seg.SOPInstanceUID, 1)}
    assert not dciodvfy_errors(path)


def test_predict_on_dicom_series_writes_seg_matching_the_mask(lgg_dir: Path, tmp_path: Path) -> None:
    patient = lgg_dir / "kaggle_3m" / "TCGA_CS_4942_19970222"
    if not patient.is_dir():
        pytest.skip(f"{patient} not found")
    to_dicom_series(patient, tmp_path / "dcm")
    assert main(["predict", "-i", str(tmp_path / "dcm"), "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    predicted = read_image(out / "mask.nii.gz")  # same geometry as the series: slices in the reader's order
    files = [Path(f) for f in read_image(tmp_path / "dcm").metadata["files"]]
    mask = predicted.array[..., 0] > 0
    assert mask.any()
    frames = seg_frames_by_slice(hd.seg.segread(out / "dicom" / "seg.dcm"), files)
    assert sorted(frames) == [k for k in range(len(mask)) if mask[k].any()]
    for k, frame in frames.items():
        np.testing.assert_array_equal(frame, mask[k])
    summary = json.loads((out / "summary.json").read_text())
    overlays = sorted((out / "dicom" / "overlay").glob("*.dcm"))
    assert len(overlays) == len(frames)  # one overlay image per tumor slice
    assert summary["dicom_files"] == ["dicom/seg.dcm", "dicom/sr.dcm",
                                      *(f"dicom/overlay/{p.name}" for p in overlays)]
    groups = hd.sr.srread(out / "dicom" / "sr.dcm").content.get_volumetric_roi_measurement_groups()
    assert groups[0].get_measurements(name=codes.SCT.Volume)[0].value == pytest.approx(summary["volume_mm3"])
    assert len(groups) == 1 + len(summary["lesions"])


def test_predict_writes_no_dicom_when_asked_not_to_or_without_tumor(series: list[Path], tmp_path: Path) -> None:
    folder = str(series[0].parent)
    assert main(["predict", "-i", folder, "-o", str(tmp_path / "off"), "--no-dicom"]) == 0
    assert not (tmp_path / "off" / "dicom").exists()
    assert "dicom_files" not in json.loads((tmp_path / "off" / "summary.json").read_text())
    empty = write_dicom_outputs(series, np.zeros((6, 10, 8), bool), {}, load_bundle(MODEL), tmp_path / "d")
    assert empty["dicom_files"] == [] and not (tmp_path / "d").exists()


def test_overlay_series_one_red_image_per_tumor_slice_in_the_source_study(series: list[Path], mask: np.ndarray,
                                                                        tmp_path: Path) -> None:
    bundle = load_bundle(MODEL)
    paths = write_overlay_series(series, mask, bundle, tmp_path / "overlay")
    assert len(paths) == 3  # tumor on slices 1, 2 and 4
    images = [pydicom.dcmread(p) for p in paths]
    sources = {str(ds.SOPInstanceUID): (k, ds) for k, ds in enumerate(map(pydicom.dcmread, series))}
    assert len({ds.SeriesInstanceUID for ds in images}) == 1
    filled = 0
    for sc in images:
        k, src = sources[str(sc.SourceImageSequence[0].ReferencedSOPInstanceUID)]
        assert k in (1, 2, 4)
        assert (sc.StudyInstanceUID, sc.PatientID, sc.PatientName) == (src.StudyInstanceUID, src.PatientID,
                                                                        src.PatientName)
        assert sc.SeriesInstanceUID != src.SeriesInstanceUID
        assert sc.SeriesDescription == f"tumorscope overlay ({MODEL} {model_version(bundle)}) - not for diagnosis"[:64]
        assert list(sc.ImageType) == ["DERIVED", "SECONDARY"] and sc.BurnedInAnnotation == "YES"
        assert list(sc.PatientOrientation) == ["RA", "AL"]  # RAS (c, s, 0), (-s, c, 0) in LPS: (-c, -s, 0), (s, -c, 0)
        assert [float(v) for v in sc.PixelSpacing] == pytest.approx([float(v) for v in src.PixelSpacing])
        rgb = sc.pixel_array.astype(int)
        assert rgb.shape == (*mask[k].shape, 3)
        red = (rgb[..., 0] > rgb[..., 1] + 40) & (rgb[..., 0] > rgb[..., 2] + 40)
        inside = mask[k] & ~find_boundaries(mask[k], mode="inner")  # the edge is drawn yellow
        assert red[inside].all() and not red[~mask[k]].any()  # red fill inside the mask only
        filled += int(inside.sum())
        assert (rgb[~mask[k]] == rgb[~mask[k]][:, :1]).all()  # the image stays grey outside
    assert filled == 2  # the centres of lesion 1's two 3x3 slices (lesion 2 is all edge)
    assert not dciodvfy_errors(paths[0])


@pytest.mark.shared_data
def test_dicom_on_request_for_a_tiff_patient_references_a_synthetic_series(lgg_dir: Path, tmp_path: Path) -> None:
    """``predict --dicom`` on a kaggle_3m TIFF folder: dicom/source/ is a series marked SYNTHETIC, made from the
    input, and the SEG over it is predict's per-slice masks, on the right slices; dciodvfy finds no error."""
    from tumorscope.io import read_mask
    from tumorscope.predict.inputs import read_input

    patient = lgg_dir / "kaggle_3m" / "TCGA_CS_4942_19970222"
    if not patient.is_dir():
        pytest.skip(f"{patient} not found")
    out = tmp_path / "out"
    assert main(["predict", "-i", str(patient), "-o", str(out), "--dicom"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    source = sorted((out / "dicom" / "source").glob("*.dcm"))
    assert len(source) == summary["n_slices"] and "SYNTHETIC" in summary["dicom_note"]
    assert all(f"dicom/source/{p.name}" in summary["dicom_files"] for p in source)
    assert pydicom.dcmread(source[0]).SeriesDescription.startswith("SYNTHETIC source (tumorscope) of TCGA_CS_4942")
    masks = np.stack([read_mask(out / "masks" / f"{n}_mask.png") for n in read_input(patient).names])
    frames = seg_frames_by_slice(hd.seg.segread(out / "dicom" / "seg.dcm"), source)
    assert sorted(frames) == [k for k in range(len(masks)) if masks[k].any()]
    for k, frame in frames.items():
        np.testing.assert_array_equal(frame, masks[k])
    assert not dciodvfy_errors(out / "dicom" / "seg.dcm")
