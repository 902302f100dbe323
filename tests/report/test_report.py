"""The HTML report: self-contained, every section present, and a reason wherever a section is empty."""

import json
import re

from tumorscope.cli import main
from tumorscope.report.html import SECTIONS, metric_rows


def _sections(page: str) -> dict[str, str]:
    """Section key -> its HTML."""
    return dict(re.findall(r'<section id="m\d+-(\w+)">(.*?)</section>', page, flags=re.S))


def _self_contained(page: str) -> None:
    assert not re.search(r"(src|href)=\"(?!data:image/png;base64,|#)", page)  # only inline images, in-page links
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_segmentation_report_has_every_section_and_says_why_calibration_is_absent(seg_report):
    out, run = seg_report
    page = out.read_text()
    _self_contained(page)
    got = _sections(page)
    assert list(got) == [key for key, _ in SECTIONS]
    shown = {k for k, v in got.items() if 'class="missing"' not in v}
    assert shown == {"overview", "metrics", "roc", "confusion", "training", "dice", "gallery", "faithfulness", "tsne"}
    assert "segmentation model" in got["calibration"]
    assert got["gallery"].count("<img") == len(re.findall(r"<h3>(worst|median|best):", got["gallery"])) >= 1
    assert "dice_mean" in got["metrics"] and "saliency" in got["faithfulness"]


def test_classification_report_uses_the_evaluators_metrics_and_predictions(cls_report):
    out, _ = cls_report
    page = out.read_text()
    _self_contained(page)
    got = _sections(page)
    for key in ("metrics", "roc", "confusion", "calibration", "gallery", "tsne"):
        assert 'class="missing"' not in got[key], key
    assert "auc_macro" in got["metrics"] and "Per class" in got["metrics"]
    assert "Dice is a segmentation metric" in got["dice"]
    assert "no training run folder" in got["training"]
    assert "explain --evaluate" in got["faithfulness"]


def test_a_missing_dataset_is_named_in_the_sections_that_need_it(seg_report, tmp_path):
    _, run = seg_report
    ev = tmp_path / "eval"
    ev.mkdir()
    m = json.loads((run / "eval" / "metrics.json").read_text())
    m["data"] = str(tmp_path / "moved_away")
    (ev / "metrics.json").write_text(json.dumps(m))
    out = tmp_path / "r.html"
    assert main(["report", str(ev), "--model", str(run), "-o", str(out)]) == 0
    got = _sections(out.read_text())
    assert "moved_away" in got["gallery"] and "not found" in got["gallery"]
    assert 'class="missing"' not in got["dice"]  # per-patient Dice comes from metrics.json alone


def test_metric_rows_find_each_kind_of_ci():
    rows = metric_rows({"dice_mean": 0.8, "dice_ci95": [0.7, 0.9], "slice_auc": 0.9, "slice_auc_ci95": [0.8, 1.0],
                        "accuracy": 0.5, "ci95": {"accuracy": [0.4, 0.6]}, "n": 3, "per_patient": [], "ok": True})
    assert rows == [["dice_mean", 0.8, "[0.700, 0.900]"], ["slice_auc", 0.9, "[0.800, 1.000]"],
                    ["accuracy", 0.5, "[0.400, 0.600]"], ["n", 3, ""]]


def test_report_refuses_a_folder_it_does_not_know(tmp_path, capsys):
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "not a run, evaluation, explain or bundle folder" in capsys.readouterr().err


def test_metrics_files_of_the_earlier_format_give_the_same_tables(seg_report, tmp_path):
    """metrics.json as written before the results schema (no schema/estimates/ci keys) reads the same."""
    _, run = seg_report
    pages = {}
    for version in ("v1", "v2"):
        ev = tmp_path / version / "eval"
        ev.mkdir(parents=True)
        m = json.loads((run / "eval" / "metrics.json").read_text())
        if version == "v1":
            assert {"schema", "estimates", "ci"} <= set(m)
            m = {k: v for k, v in m.items() if k not in ("schema", "estimates", "ci")}
        (ev / "metrics.json").write_text(json.dumps(m))
        out = tmp_path / version / "r.html"
        assert main(["report", str(ev), str(run / "explain"), "--model", str(run), "--max-embed", "20",
                     "-o", str(out)]) == 0
        pages[version] = _sections(out.read_text())
    for key in ("metrics", "dice", "faithfulness"):
        assert pages["v1"][key].replace("/v1/", "/v2/") == pages["v2"][key], key
    assert "[" in pages["v1"]["metrics"].split("dice_mean")[1][:200]  # its CI is shown
