"""The report's model-comparison section, from `tumorscope compare --tests --json`."""

import json

import pytest

from tests.evaluate.synthetic_runs import write_classification_eval
from tumorscope.cli import main


@pytest.fixture(scope="module")
def compare_json(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    a = write_classification_eval(tmp / "a", skill=0.8, seed=1)
    b = write_classification_eval(tmp / "b", skill=2.0, seed=2)
    js = tmp / "compare.json"
    assert main(["compare", "--tests", "--boot", "100", str(a), str(b), "--names", "small", "large",
                 "--json", str(js)]) == 0
    return js


def test_report_shows_the_comparison_and_its_tests(compare_json, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", "--comparison", str(compare_json), "-o", str(out)]) == 0
    page = out.read_text()
    data = json.loads(compare_json.read_text())
    assert "<h2>Model comparison</h2>" in page and "<h3>Paired significance tests</h3>" in page
    assert "<th>Holm p</th>" in page and "<td>DeLong (clustered)</td>" in page
    for row in data["table"]["rows"]:  # every run's row, its cells as the Markdown table has them
        assert "<td>" + "</td><td>".join(row[:3]) + "</td>" in page
    p = data["tests"]["pairs"][0]["tests"][1]["p"]
    assert (f"{p:.4f}" if p >= 1e-4 else "&lt; 0.0001") in page
    assert "<script" not in page


def test_report_refuses_a_json_that_is_not_a_comparison(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text('{"task": "classification"}')
    assert main(["report", "--comparison", str(bad), "-o", str(tmp_path / "r.html")]) == 2
    assert "not a `tumorscope compare --json` file" in capsys.readouterr().err
    assert main(["report", "-o", str(tmp_path / "r.html")]) == 2
