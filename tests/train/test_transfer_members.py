"""``--init`` from one member of an ensemble bundle, and the options that go with --init for segmentation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.models import build_model
from tumorscope.models.ensemble import ProbabilityEnsemble
from tumorscope.options import TrainConfig
from tumorscope.train.transfer import load_init


def _unet(seed: int, in_channels: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("unet2d", in_channels, 1, width=4)


@pytest.fixture
def ensemble_file(tmp_path: Path) -> Path:
    ens = ProbabilityEnsemble([_unet(1), _unet(2, in_channels=3)], [[1], [0, 1, 2]], out_channels=1)
    torch.save(ens.state_dict(), tmp_path / "ensemble.pt")
    return tmp_path / "ensemble.pt"


def test_one_member_is_loaded_by_its_own_names(ensemble_file: Path) -> None:
    model = _unet(9)
    report = load_init(model, ensemble_file, member=1)
    assert report["member"] == 1 and report["loaded"] == report["total"]
    assert report["adapted_input_channels"]  # member 1 read 3 sequences: its first convolution summed to 1
    want = _unet(2, in_channels=3).state_dict()
    got = model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in got if k not in report["adapted_input_channels"])


def test_an_ensemble_needs_a_member_and_a_plain_network_has_none(ensemble_file: Path, tmp_path: Path) -> None:
    with pytest.raises(TumorscopeError, match=r"ensemble of 2 networks.*--init-member 0\.\.1"):
        load_init(_unet(0), ensemble_file)
    with pytest.raises(TumorscopeError, match="has no member 2"):
        load_init(_unet(0), ensemble_file, member=2)
    torch.save(_unet(3).state_dict(), tmp_path / "plain.pt")
    assert load_init(_unet(0), tmp_path / "plain.pt")["member"] is None
    with pytest.raises(TumorscopeError, match="not an ensemble"):
        load_init(_unet(0), tmp_path / "plain.pt", member=0)


def test_init_options_are_checked_before_any_data_is_read() -> None:
    with pytest.raises(TumorscopeError, match="give --init too"):
        TrainConfig(data="D", init_member=0)
    from tumorscope.train.segmentation import SliceTrainer

    with pytest.raises(TumorscopeError, match="--freeze .* classification option"):
        SliceTrainer(TrainConfig(data="D", init="x", freeze=1)).check()
