"""Ensembles: the probability average itself, and `tumorscope ensemble` on tiny synthetic runs (one split)."""

import json

import pytest
import torch
from torch import nn

from tests.synthetic import TINY_SEG
from tumorscope.bundle import load_bundle
from tumorscope.cli import main
from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.models.ensemble import ProbabilityEnsemble
from tumorscope.train.ensemble import member_channels


class Constant(nn.Module):
    """Returns a fixed logit map (one value per output channel) and records the channels it was given."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.seen_channels = -1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_channels = x.shape[1]
        return self.logits[None, :, None, None].expand(x.shape[0], -1, *x.shape[2:])


def test_sigmoid_ensemble_returns_logit_of_mean_probability_and_routes_channels():
    a, b = Constant([0.0]), Constant([2.0])
    ens = ProbabilityEnsemble([a, b], [[1], [0, 1, 2]], out_channels=1)
    out = ens(torch.rand(2, 3, 4, 4))  # distinct sequences: every member votes
    expected = (0.5 + torch.sigmoid(torch.tensor(2.0))) / 2
    assert torch.allclose(torch.sigmoid(out), torch.full_like(out, float(expected)), atol=1e-6)
    assert (a.seen_channels, b.seen_channels) == (1, 3)


def test_softmax_ensemble_returns_log_of_mean_probabilities():
    ens = ProbabilityEnsemble([Constant([0.0, 0.0]), Constant([5.0, 0.0])], [[0], [0]], out_channels=2)
    p = torch.softmax(ens(torch.zeros(1, 1, 2, 2)), dim=1)[0, :, 0, 0]
    p1 = torch.softmax(torch.tensor([5.0, 0.0]), 0)
    assert torch.allclose(p, (torch.tensor([0.5, 0.5]) + p1) / 2, atol=1e-5)


def test_member_channels_and_refusals():
    assert member_channels("mri3", "flair", 1) == [1]
    assert member_channels("mri3", "mri3", 3) == [0, 1, 2]
    with pytest.raises(TumorscopeError, match="cannot ensemble"):
        member_channels("gray", "rgb", 3)
    with pytest.raises(TumorscopeError, match="tumorscope ensemble"):
        build_model("ensemble", 3, 1, width=16)


@pytest.fixture(scope="module")
def two_runs(tiny_seg_run, tmp_path_factory):
    """The session's tiny FLAIR run plus a 3-sequence run with the same seed, hence the same split."""
    root, flair = tiny_seg_run
    mri3 = tmp_path_factory.mktemp("runs") / "mri3"
    assert main(["train", *TINY_SEG, "--epochs", "1", "--data", str(root), "--out", str(mri3),
                 "--channels", "mri3"]) == 0
    return root, flair, mri3


def test_ensemble_command_writes_a_bundle_that_predicts(two_runs, tmp_path):
    root, flair, mri3 = two_runs
    out = tmp_path / "ens"
    assert main(["ensemble", str(flair), str(mri3), "--out", str(out)]) == 0
    bundle = load_bundle(out)
    assert bundle.config["model"]["name"] == "ensemble" and bundle.preprocessor.channels == "mri3"
    members = bundle.config["model"]["options"]["members"]
    assert [m["channels"] for m in members] == [[1], [0, 1, 2]]
    search = json.loads((out / "postprocess_search.json").read_text())
    assert search["n_val_volumes"] >= 1 and len(search["candidates"]) == 32
    assert "dice_mean" in json.loads((out / "val_metrics.json").read_text())
    ref = bundle.reference  # the drift reference, on the shared validation patients
    assert ref["source"].startswith("validation volumes") and "tumor_fraction" in ref["features"]
    # the reloaded network equals the mean of its members' probabilities
    x = torch.rand(2, 3, 32, 32)
    p_flair = torch.sigmoid(load_bundle(flair).model(x[:, 1:2]))
    p_mri3 = torch.sigmoid(load_bundle(mri3).model(x))
    assert torch.allclose(torch.sigmoid(bundle.model(x)), (p_flair + p_mri3) / 2, atol=1e-4)
    patient = next((root / "kaggle_3m").iterdir())
    assert main(["predict", "--model", str(out), "-i", str(patient), "-o", str(tmp_path / "pred")]) == 0
    assert json.loads((tmp_path / "pred" / "summary.json").read_text())["n_slices"] == 4


def test_ensemble_refuses_runs_with_different_splits(two_runs, tmp_path):
    root, flair, _ = two_runs
    other = tmp_path / "other"
    assert main(["train", *TINY_SEG, "--epochs", "1", "--data", str(root), "--out", str(other),
                 "--val-fraction", "0.5"]) == 0
    splits = [json.loads((r / "splits.json").read_text())["folds"][0]["val"]["groups"] for r in (flair, other)]
    assert len(splits[0]) != len(splits[1])
    assert main(["ensemble", str(flair), str(other), "--out", str(tmp_path / "ens")]) == 2
    assert not (tmp_path / "ens" / "bundle").exists()


def test_single_sequence_input_is_left_to_one_channel_members():
    """All channels equal (a FLAIR-only image repeated by the mri3 preprocessing): the 3-sequence member,
    out of its domain there, does not vote; with distinct sequences both do."""
    ens = ProbabilityEnsemble([Constant([0.0]), Constant([2.0])], [[1], [0, 1, 2]], out_channels=1)
    same = torch.rand(1, 1, 4, 4).repeat(1, 3, 1, 1)
    assert ens.voters(same) == [0]
    assert torch.allclose(torch.sigmoid(ens(same)), torch.full((1, 1, 4, 4), 0.5), atol=1e-6)
    assert ens.voters(torch.rand(1, 3, 4, 4)) == [0, 1]
    only_multi = ProbabilityEnsemble([Constant([0.0]), Constant([2.0])], [[0, 1, 2], [0, 1, 2]], out_channels=1)
    assert only_multi.voters(same) == [0, 1]


class SizeRecorder(nn.Module):
    """A classifier stand-in: fixed logits per image, recording the input size it was given."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)
        self.seen_size: tuple[int, ...] = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen_size = tuple(x.shape[-2:])
        return self.logits.expand(x.shape[0], -1)


def test_classifier_members_read_the_input_at_their_own_size():
    small, large = SizeRecorder([1.0, 0.0]), SizeRecorder([0.0, 1.0])
    ens = ProbabilityEnsemble([small, large], [[0], [0]], out_channels=2, sizes=[(32, 32), None])
    x = torch.rand(2, 1, 48, 48)
    p = torch.softmax(ens(x), dim=1)
    assert small.seen_size == (32, 32) and large.seen_size == (48, 48)
    assert torch.allclose(p, torch.full_like(p, 0.5), atol=1e-6)  # the mean of two mirrored probabilities
    # the resize is the preprocessing's (antialiased bilinear), so a member sees what its own pipeline makes
    from tumorscope.preprocess.pipeline import resize

    assert torch.equal(ens.member_input(0, x), resize(x, (32, 32)))
    with pytest.raises(ValueError, match="one input size"):
        ProbabilityEnsemble([small, large], [[0], [0]], out_channels=2, sizes=[(32, 32)])
