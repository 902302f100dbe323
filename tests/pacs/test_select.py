"""pacs watch's series selection rules: parsing, matching on each key, and the image-series-only guard."""

from __future__ import annotations

import pytest

from tumorscope.errors import TumorscopeError
from tumorscope.pacs.select import IMAGE_SOP_CLASSES, parse_rule, rejection, server_filters

MR = next(uid for uid, name in IMAGE_SOP_CLASSES.items() if name.startswith("MR"))
SERIES = {"Modality": "MR", "SeriesDescription": "Ax T2 FLAIR fs", "ImageType": ["ORIGINAL", "PRIMARY", "M_FFE"],
          "BodyPartExamined": "BRAIN", "SliceThickness": "3.0", "SOPClassUID": MR}


@pytest.mark.parametrize(("rule", "taken"), [
    ("Modality=MR", True), ("modality=mr", True), ("Modality=CT|MR", True), ("Modality=CT", False),
    ("Modality!=CT", True), ("Modality!=MR", False),
    ("SeriesDescription=*flair*", True), ("SeriesDescription=*t1*", False), ("SeriesDescription~t2.*flair", True),
    ("SeriesDescription~^flair", False),
    ("ImageType=ORIGINAL\\PRIMARY", True), ("ImageType=original", True), ("ImageType=DERIVED", False),
    ("ImageType!=DERIVED", True), ("BodyPartExamined=brain|head", True),
    ("SliceThickness<=5", True), ("SliceThickness<3", False), ("SliceThickness>=3", True), ("SliceThickness=3", True),
    ("SliceThickness>3.5", False),
])
def test_each_rule_kind(rule: str, taken: bool) -> None:
    assert (rejection([parse_rule(rule)], SERIES) is None) is taken


def test_all_rules_must_hold_and_the_reason_names_the_failing_one() -> None:
    rules = [parse_rule("Modality=MR"), parse_rule("SliceThickness<=2")]
    assert rejection(rules, SERIES) == "does not match SliceThickness<=2"
    assert rejection(rules[:1], SERIES) is None


def test_missing_attribute_is_not_taken() -> None:
    series = {k: v for k, v in SERIES.items() if k != "SliceThickness"}
    assert rejection([parse_rule("SliceThickness<=5")], series) == "does not match SliceThickness<=5"


@pytest.mark.parametrize("sop", ["1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.88.34",
                                 "1.2.840.10008.5.1.4.1.1.7", ""])
def test_seg_sr_and_secondary_captures_are_never_candidates(sop: str) -> None:
    reason = rejection([], {**SERIES, "SOPClassUID": sop})
    assert reason is not None and "not a CT or MR image series" in reason


@pytest.mark.parametrize(("text", "message"), [
    ("Modality", "not a series filter"), ("Colour=red", "cannot filter series on 'Colour'"),
    ("SliceThickness~3", "SliceThickness takes"), ("SliceThickness<=thin", "needs a number"),
    ("Modality<=MR", "numbers compare only on SliceThickness"), ("SeriesDescription~(", "not a regular expression"),
    ("Modality=", "not a series filter"),
])
def test_malformed_rules_give_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(TumorscopeError, match=message.replace("(", r"\(")):
        parse_rule(text)


def test_one_exact_modality_is_asked_of_the_server() -> None:
    assert server_filters([parse_rule("SliceThickness<5"), parse_rule("Modality=mr")]) == {"Modality": "MR"}
    assert server_filters([parse_rule("Modality=CT|MR")]) == {}
    assert server_filters([parse_rule("Modality!=CT")]) == {}
