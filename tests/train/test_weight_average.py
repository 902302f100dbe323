"""Weight EMA in the generic training loop: what is validated, kept as best and resumed is the average."""

import numpy as np
import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.train.loop import WeightAverage, fit


def _task(model: torch.nn.Module, average: WeightAverage, seen: list[torch.Tensor]):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.ones(4, 1), torch.full((4, 1), 3.0)

    def train_epoch(epoch: int) -> dict[str, float]:
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        average.step()
        return {"loss": float(loss.detach())}

    def validate() -> dict[str, float]:
        seen.append(average.scored.weight.detach().clone())
        return {"score": float(seen[-1].sum())}  # grows every epoch: each epoch is the new best

    return opt, train_epoch, validate


def test_ema_weights_are_validated_kept_and_loaded(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    average = WeightAverage(model, 0.5)
    seen: list[torch.Tensor] = []
    opt, train_epoch, validate = _task(model, average, seen)
    raw = []

    def train_and_remember(epoch: int) -> dict[str, float]:
        out = train_epoch(epoch)
        raw.append(model.weight.detach().clone())
        return out

    fit(model, opt, None, train_and_remember, validate, tmp_path, epochs=4, patience=5, average=average)
    # first update copies the weights; then avg = 0.5 * avg + 0.5 * new
    expected = raw[0]
    for w in raw[1:]:
        expected = 0.5 * expected + 0.5 * w
    assert torch.allclose(seen[-1], expected)
    assert not torch.allclose(raw[-1], expected)  # the average lags the raw weights
    assert torch.allclose(torch.load(tmp_path / "best.pt")["weight"], expected)
    assert torch.allclose(model.weight, expected)  # the bundled network is the average


def test_resume_restores_the_average(tmp_path):
    def run(epochs: int, resume: bool) -> torch.Tensor:
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        average = WeightAverage(model, 0.5)
        opt, train_epoch, validate = _task(model, average, [])
        fit(model, opt, None, train_epoch, validate, tmp_path / "r", epochs=epochs, patience=9, resume=resume,
            average=average)
        return model.weight.detach().clone()

    straight = run(4, False)
    (tmp_path / "r").rename(tmp_path / "straight")
    run(2, False)
    assert torch.allclose(run(4, True), straight)


def test_off_by_default_and_bad_decay_is_refused():
    model = torch.nn.Linear(1, 1)
    assert WeightAverage(model).scored is model and WeightAverage(model).state_dict() is None
    with pytest.raises(TumorscopeError, match="--ema"):
        WeightAverage(model, 1.0)


def test_resume_continues_the_runs_own_random_streams(tmp_path):
    """A run's own generators (batch order, augmentation, mixup) are checkpointed: 2 epochs + resume to 4 draws
    exactly what 4 uninterrupted epochs draw, for torch and numpy generators alike."""

    def run(epochs: int, resume: bool, folder: str) -> list[float]:
        model = torch.nn.Linear(1, 1, bias=False)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)
        gen, rng = torch.Generator().manual_seed(3), np.random.default_rng(3)
        drawn: list[float] = []

        def train_epoch(epoch: int) -> dict[str, float]:
            drawn.extend([float(torch.rand(1, generator=gen)), float(rng.random())])
            return {"loss": 0.0}

        fit(model, opt, None, train_epoch, lambda: {"score": 0.0}, tmp_path / folder, epochs=epochs, patience=9,
            resume=resume, generators=(gen, rng))
        return drawn

    straight = run(4, False, "straight")
    first = run(2, False, "split")
    assert first + run(4, True, "split") == straight
