"""The segmentation inference benchmark runs on a tiny input and reports positive ratios."""

import numpy as np

from bench import seg_inference
from tumorscope.models import build_model
from tumorscope.preprocess.pipeline import Preprocessor


def test_measure_reports_throughputs_and_ratios_against_the_baseline():
    pre = Preprocessor(channels="flair", size=(32, 32))
    model = build_model("unet2d", pre.in_channels, 1, width=4)
    stack = np.random.default_rng(0).integers(0, 255, (2, 48, 40, 3)).astype(np.uint8)
    res = seg_inference.measure(model, pre, stack, batch_sizes=(1, 2), repeats=1, warmup=0)
    assert res["slices"] == 2 and res["network_input"] == [1, 32, 32]
    for key in ("bundle_vs_baseline_bs1", "bundle_vs_baseline_bs2", "forward_bf16_vs_baseline_bs1"):
        assert res["ratios"][key] > 0, key
    assert all(v > 0 for row in res["slices_per_s"].values() for v in row.values())
    assert seg_inference.tile_slices(stack, 5).shape[0] == 5


def test_subprocess_peak_rss_is_the_child_own():
    import sys

    code, _, peak = seg_inference.run_watching_rss(
        [sys.executable, "-c", "import time; x = bytearray(80_000_000); time.sleep(0.3)"], env={}
    )
    assert code == 0 and 80 <= peak < 200  # 76 MiB buffer + interpreter; not this (torch-sized) process


def test_precision_bench_times_every_way_and_says_what_runs_here(tmp_path):
    import json

    from bench import precision

    out = precision.main(["--size", "16", "--width", "4", "--batch", "2", "--repeats", "1", "--warmup", "0",
                          "--json", str(tmp_path / "p.json")])
    assert set(out["seconds"]) == {f"{w}_{k}" for w in precision.WAYS for k in ("train", "infer")}
    assert all(v > 0 for v in out["seconds"].values())
    assert out["tumorscope_computes_in"] in ("float32", "bfloat16")
    assert json.loads((tmp_path / "p.json").read_text())["cpu"]["cpu_count"] >= 1


def test_predict_speed_runs_a_tree_in_a_fresh_process():
    """bench/predict_speed.py times a tree's CLI as a fresh process: `--help` of this checkout, whose start-up
    loads no torch (torch alone is ~225 MiB resident)."""
    from bench import predict_speed

    wall, cpu, peak = predict_speed.run(predict_speed.REPO, ["--help"])
    assert wall > 0 and cpu > 0
    assert 0 < peak < 150


def test_archive_bench_reports_cases_per_s(tiny_seg_run, lgg_dir):
    """One real patient, the local engine, one worker, the tiny model: a throughput and the same volumes."""
    from bench import archive_scale

    _, run = tiny_seg_run
    (res,) = archive_scale.main(["--patients", "1", "--engines", "local", "--workers", "1", "--model", str(run)])
    assert res["exit"] == 0 and res["cases"] == 1 and res["cases_per_s"] > 0
    assert int(next(iter(res["volumes"].values()))) >= 0


def test_brats_predict_bench_times_tumorscope_and_monai_on_the_same_case(tiny_brats_bundles):
    """bench/brats_predict.py on a tiny synthetic case with the tiny 3-D bundle: both children run, same masks."""
    from bench import brats_predict

    root, _, three = tiny_brats_bundles
    case = sorted(p for p in root.iterdir())[0]
    res = brats_predict.main(["--case", str(case), "--bundle", str(three), "--runs", "1", "--threads", "1"])
    assert res["median"]["tumorscope_wall"] > 0 and res["median"]["monai_rss"] > 0
    assert res["ratios"]["wall_tumorscope_over_monai"] > 0
    assert res["mask_dice_tumorscope_vs_monai"] > 0.9
