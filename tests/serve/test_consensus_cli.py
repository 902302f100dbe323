"""``tumorscope consensus``: files mode on NIfTI and PNG masks, and service mode on the reviews a real service
stored (SQLite): each reviewer's latest review, corrected masks, the AI mask for 'accept', Fleiss' kappa."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.serve.server import Server, wait_done
from tumorscope.cli import main
from tumorscope.io import Image, read_image, write_mask


def square(shape: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[(..., slice(lo, hi), slice(lo, hi))] = True
    return m


def png(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(mask.astype(np.uint8) * 255).save(buf, "PNG")
    return buf.getvalue()


def test_files_mode_nifti(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    like = Image.from_array(np.zeros((4, 20, 20, 1), np.uint8), spacing=(0.8, 0.8, 2.0), origin=(1.0, 2.0, 3.0))
    masks = [square((4, 20, 20), 5, 15), square((4, 20, 20), 5, 15), square((4, 20, 20), 6, 15)]
    paths = [write_mask(m, like, tmp_path / f"r{i}.nii.gz") for i, m in enumerate(masks)]
    out = tmp_path / "out"
    assert main(["consensus", "--masks", *map(str, paths), "-o", str(out)]) == 0
    assert "3 readers: pairwise Dice mean" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted(report["files"]) == [
        "consensus_mask.nii.gz", "probability_map.nii.gz", "report.json"]
    assert report["readers"] == list(map(str, paths)) and report["shape"] == [4, 20, 20]
    assert report["staple_vs_majority_dice"] == 1.0 and report["pairwise_dice"]["matrix"][0][1] == 1.0
    assert len(report["staple_sensitivity"]) == 3 and report["staple_sensitivity"][2] < 1.0 == report["staple_specificity"][2]
    got = read_image(out / "consensus_mask.nii.gz")
    assert got.spacing == pytest.approx(like.spacing) and got.origin == pytest.approx(like.origin)
    np.testing.assert_array_equal(got.array[..., 0] > 0, masks[0])
    prob = read_image(out / "probability_map.nii.gz").array[..., 0]
    assert prob.dtype == np.float32 and prob.max() <= 1.0 and (prob[masks[0]] > 0.5).all()
    # another geometry is refused, naming the file
    odd = write_mask(masks[1], Image.from_array(like.array, spacing=(1.0, 1.0, 2.0)), tmp_path / "odd.nii.gz")
    assert main(["consensus", "--masks", str(paths[0]), str(odd), "-o", str(tmp_path / "x")]) == 2
    assert "odd.nii.gz: mask geometry" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_files_mode_png_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = square((16, 16), 2, 10), square((16, 16), 4, 12)
    (tmp_path / "a.png").write_bytes(png(a))
    (tmp_path / "b.png").write_bytes(png(b))
    out = tmp_path / "out"
    assert main(["consensus", "--masks", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(out)]) == 0
    mask = np.asarray(PILImage.open(out / "consensus_mask.png"))
    assert set(np.unique(mask).tolist()) <= {0, 255} and mask.shape == (16, 16)
    report = json.loads((out / "report.json").read_text())
    assert report["pairwise_dice"]["mean"] == pytest.approx(2 * 36 / 128)
    (tmp_path / "c.png").write_bytes(png(square((16, 17), 2, 10)))
    assert main(["consensus", "--masks", str(tmp_path / "a.png"), str(tmp_path / "c.png"), "-o", str(out)]) == 2
    assert "c.png: mask shape (16, 17) differs from a.png's (16, 16)" in capsys.readouterr().err
    gray = np.zeros((16, 16), np.uint8)
    gray[2:5, 2:5] = 7
    PILImage.fromarray(gray).save(tmp_path / "gray.png")
    assert main(["consensus", "--masks", str(tmp_path / "a.png"), str(tmp_path / "gray.png"), "-o", str(out)]) == 2
    assert "gray.png: a mask must be binary" in capsys.readouterr().err
    assert main(["consensus", "--masks", str(tmp_path / "a.png"), "-o", str(out)]) == 2
    assert "at least 2 readers" in capsys.readouterr().err
    assert main(["consensus", "--masks", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "--db", "sqlite:///x.db",
                 "-o", str(out)]) == 2
    assert "service mode" in capsys.readouterr().err
    assert json.loads((out / "report.json").read_text()) == report  # the refused runs left the folder as it was


def test_service_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    server = Server(data).start()
    try:
        tokens = {name: server.add_user(name, "clinician") for name in ("ann", "bob", "cat")}
        rng = np.random.default_rng(0)
        image = png(rng.random((64, 64)) > 0.5)
        with server.client(tokens["ann"]) as c:
            first = c.post("/v1/predictions", files={"file": ("a.png", image)}, headers={"Prefer": "wait=120"})
            second = c.post("/v1/predictions", files={"file": ("b.png", png(rng.random((64, 64)) > 0.5))},
                            headers={"Prefer": "wait=120"})
        pid, other = first.json()["id"], second.json()["id"]
        with server.client(tokens["ann"]) as c:
            ai_name = wait_done(c, pid)["result"]["mask_files"][0]
            ai = np.asarray(PILImage.open(io.BytesIO(c.get(f"/v1/predictions/{pid}/files/{ai_name}").content))) > 0
        corrected = {"ann": square((64, 64), 10, 30), "bob": square((64, 64), 12, 30)}

        def review(who: str, target: str, decision: str) -> None:
            with server.client(tokens[who]) as c:
                if decision == "correct":
                    r = c.post(f"/v1/predictions/{target}/review", data={"decision": "correct"},
                               files={"mask": ("m.png", png(corrected[who]))})
                else:
                    r = c.post(f"/v1/predictions/{target}/review", json={"decision": decision})
                assert r.status_code == 200, r.text

        review("ann", pid, "reject")  # replaced by ann's later review
        review("ann", pid, "correct")
        review("bob", pid, "correct")
        review("cat", pid, "accept")
        review("ann", other, "accept")
        review("bob", other, "reject")
    finally:
        server.stop()
    out = tmp_path / "out"
    assert main(["consensus", "--data-dir", str(data), "--prediction", pid, "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 readers" in printed and "Fleiss' kappa of review decisions" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["readers"] == ["ann", "bob", "cat"] and report["prediction"] == pid
    assert [(r["reviewer"], r["decision"]) for r in report["reader_details"]] == [
        ("ann", "correct"), ("bob", "correct"), ("cat", "accept")]
    assert report["reader_details"][2]["mask"] == [ai_name]
    expected = [corrected["ann"], corrected["bob"], ai]
    from tumorscope.evaluate.consensus import consensus_report, fleiss_kappa

    mine, est, _ = consensus_report(expected, ["ann", "bob", "cat"])
    np.testing.assert_allclose(report["pairwise_dice"]["matrix"], mine.pairwise_dice.matrix)
    np.testing.assert_array_equal(np.asarray(PILImage.open(out / "consensus_mask.png")) > 0, est.mask)
    agreement = report["decision_agreement"]
    assert agreement["n_predictions"] == 2 and agreement["n_decisions"] == 5
    # decisions (accept, reject, correct): pid 1/0/2, other 1/1/0
    assert agreement["fleiss_kappa"] == pytest.approx(fleiss_kappa([[1, 0, 2], [1, 1, 0]]))
    # --all: one folder for pid; `other` has one reader mask only
    assert main(["consensus", "--data-dir", str(data), "--all", "-o", str(tmp_path / "all")]) == 0
    overview = json.loads((tmp_path / "all" / "report.json").read_text())
    assert list(overview["predictions"]) == [pid] and "1 reader mask" in overview["skipped"][other]
    assert json.loads((tmp_path / "all" / pid / "report.json").read_text())["readers"] == ["ann", "bob", "cat"]
    assert main(["consensus", "--data-dir", str(data), "--prediction", other, "-o", str(tmp_path / "o")]) == 2
    assert main(["consensus", "--data-dir", str(tmp_path / "nowhere"), "--all", "-o", str(tmp_path / "o")]) == 2
    assert "no service database" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()
