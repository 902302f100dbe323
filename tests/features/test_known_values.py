"""Features of shapes with known answers: a disc (area, perimeter, mean) and a sphere (volume, surface), against
the formulas; the foreground rule and the LBP histogram on images whose answer is known too."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tumorscope.features.lbp import lbp_histogram
from tumorscope.features.radiomics_run import EMPTY, OK, UNUSABLE, radiomics_features
from tumorscope.features.roi import foreground
from tumorscope.features.settings import build_extractor, default_params


def _ball(shape: tuple[int, ...], radius: float) -> np.ndarray:
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    return sum(g**2 for g in grids) <= radius**2


def test_disc_area_perimeter_and_mean_match_the_formulas():
    r, spacing = 20.0, (0.5, 0.5)  # mm per pixel: area and perimeter in mm
    disc = _ball((64, 64), r)
    image = np.where(disc, np.random.default_rng(0).uniform(50, 150, disc.shape), 0.0)
    status, f = radiomics_features(build_extractor(default_params(2, filters=())), image, disc, spacing)
    assert status == OK
    r_mm = r * spacing[0]
    assert f["original_shape2D_PixelSurface"] == pytest.approx(disc.sum() * 0.25)
    assert f["original_shape2D_MeshSurface"] == pytest.approx(math.pi * r_mm**2, rel=0.02)
    # the marching-squares outline of a digital disc runs a few % longer than the circle (r = 20 px: +6%)
    assert f["original_shape2D_Perimeter"] == pytest.approx(2 * math.pi * r_mm, rel=0.08)
    assert f["original_shape2D_Perimeter"] > 2 * math.pi * r_mm
    assert f["original_shape2D_Sphericity"] == pytest.approx(1.0, abs=0.08)
    assert f["original_firstorder_Mean"] == pytest.approx(image[disc].mean(), rel=1e-6)
    assert f["original_firstorder_Maximum"] == pytest.approx(image[disc].max(), rel=1e-6)


def test_sphere_volume_and_surface_match_the_formulas():
    r = 10.0
    ball = _ball((26, 26, 26), r)
    image = np.where(ball, 80.0, 0.0) + np.random.default_rng(1).normal(0, 1, ball.shape)
    status, f = radiomics_features(build_extractor(default_params(3, filters=())), image, ball, (1.0, 1.0, 1.0))
    assert status == OK
    assert f["original_shape_VoxelVolume"] == pytest.approx(ball.sum())
    assert f["original_shape_MeshVolume"] == pytest.approx(4 / 3 * math.pi * r**3, rel=0.03)
    # marching cubes on a digital sphere overestimates its surface (r = 10 voxels: +8.5%)
    assert f["original_shape_SurfaceArea"] == pytest.approx(4 * math.pi * r**2, rel=0.10)
    assert f["original_shape_SurfaceArea"] > 4 * math.pi * r**2
    assert f["original_firstorder_Mean"] == pytest.approx(image[ball].mean(), rel=1e-6)


def test_filtered_images_add_wavelet_and_log_columns_named_for_2d():
    disc = _ball((48, 48), 15)
    image = np.where(disc, np.random.default_rng(2).uniform(0, 255, disc.shape), 0.0)
    _, f = radiomics_features(build_extractor(default_params(2)), image, disc, (1.0, 1.0))
    families = {k.split("_")[0] for k in f}
    assert families == {"original", "wavelet-LL", "wavelet-LH", "wavelet-HL", "wavelet-HH",
                        "log-sigma-1-0-mm-2D", "log-sigma-3-0-mm-2D"}
    for cls in ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"):
        assert any(k.startswith(f"wavelet-HH_{cls}_") for k in f), cls
    assert all(np.isfinite(v) for k, v in f.items() if k.startswith("original_firstorder"))


def test_empty_and_one_pixel_rois_are_flagged_not_computed():
    image = np.random.default_rng(3).uniform(0, 1, (32, 32))
    extractor = build_extractor(default_params(2, filters=()))
    assert radiomics_features(extractor, image, np.zeros((32, 32), bool), (1.0, 1.0)) == (EMPTY, {})
    one = np.zeros((32, 32), bool)
    one[10, 10] = True
    assert radiomics_features(extractor, image, one, (1.0, 1.0)) == (UNUSABLE, {})


def test_whole_image_roi_covers_every_pixel():
    image = np.random.default_rng(4).uniform(0, 100, (32, 32))
    status, f = radiomics_features(build_extractor(default_params(2, filters=())), image, np.ones((32, 32), bool),
                                   (1.0, 1.0))
    assert status == OK
    assert f["original_shape2D_PixelSurface"] == 32 * 32
    assert f["original_firstorder_Mean"] == pytest.approx(image.mean(), rel=1e-6)


def test_foreground_is_the_body_with_its_holes_filled_and_specks_dropped():
    body = _ball((1, 64, 64), 25)
    volume = np.where(body, 200.0, 5.0)
    volume[_ball((1, 64, 64), 6)] = 5.0  # a dark hole inside (a ventricle, a necrotic core)
    volume[0, 1:3, 1:3] = 255.0  # a bright speck outside (an artefact)
    fg = foreground(volume)
    assert np.array_equal(fg, body)
    assert not foreground(np.zeros((2, 16, 16))).any()  # a blank volume has no foreground


def test_lbp_histogram_is_normalised_and_flat_images_are_one_pattern():
    roi = np.zeros((1, 20, 20), bool)
    roi[0, 2:-2, 2:-2] = True  # away from the border (outside the image LBP sees zeros)
    flat = lbp_histogram(np.full((1, 20, 20), 7.0), roi)
    assert sum(flat.values()) == pytest.approx(1.0)
    assert max(flat.values()) == pytest.approx(1.0)  # every pixel has the same (all neighbours >=) pattern
    noisy = lbp_histogram(np.random.default_rng(5).uniform(0, 1, (1, 20, 20)), roi)
    assert sum(noisy.values()) == pytest.approx(1.0) and max(noisy.values()) < 0.5
    assert all(math.isnan(v) for v in lbp_histogram(np.ones((1, 8, 8)), np.zeros((1, 8, 8), bool)).values())
