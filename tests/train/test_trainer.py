"""The trainer's hooks: a tiny task and a recipe variant that overrides one hook."""

import json
from dataclasses import dataclass
from typing import Any

import torch

from tumorscope.train.trainer import Trainer, training_result


@dataclass
class TinyConfig:
    out: str
    seed: int = 0
    epochs: int = 3
    patience: int = 5
    lr: float = 0.05
    weight_decay: float = 0.0
    time_limit: float | None = None
    threads: int | None = 1
    bf16: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class LineTrainer(Trainer):
    """Fit y = 2x with one weight."""

    def load_data(self) -> None:
        self.x = torch.linspace(-1, 1, 16)[:, None]
        self.y = 2 * self.x

    def build_model(self) -> torch.nn.Module:
        model = torch.nn.Linear(1, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        return model

    def build_loss(self) -> Any:
        return torch.nn.functional.mse_loss

    def batches(self, epoch: int) -> list[torch.Tensor]:
        return list(torch.randperm(len(self.x), generator=self.generator).split(4))

    def train_step(self, idx: torch.Tensor) -> tuple[torch.Tensor, float]:
        return self.loss_fn(self.model(self.x[idx]), self.y[idx]), len(idx)

    def validate(self) -> dict[str, float]:
        return {"score": -float(self.loss_fn(self.average.scored(self.x), self.y))}

    def finish(self, result: dict[str, Any]) -> dict[str, Any]:
        return training_result(result) | {"weight": float(self.model.weight.detach())}


class SGDLineTrainer(LineTrainer):
    """A recipe variant: only the optimiser differs."""

    def build_optimizer(self) -> torch.optim.Optimizer:
        self.optimizer_kind = "sgd"
        return torch.optim.SGD(self.model.parameters(), lr=self.cfg.lr)


def test_a_tiny_task_trains_through_the_shared_loop(tmp_path):
    summary = LineTrainer(TinyConfig(out=str(tmp_path / "run"))).run()
    assert summary["epochs_run"] == 3 and summary["weight"] > 0.1  # moved towards 2
    for name in ("config.json", "checkpoint.pt", "best.pt", "metrics.csv"):
        assert (tmp_path / "run" / name).exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 3


def test_overriding_one_hook_changes_only_that_step(tmp_path):
    adam = LineTrainer(TinyConfig(out=str(tmp_path / "a")))
    sgd = SGDLineTrainer(TinyConfig(out=str(tmp_path / "b")))
    a, b = adam.run(), sgd.run()
    assert isinstance(adam.optimizer, torch.optim.AdamW) and isinstance(sgd.optimizer, torch.optim.SGD)
    assert sgd.optimizer_kind == "sgd" and a["weight"] != b["weight"]


def test_resume_continues_where_an_uninterrupted_run_would_be(tmp_path):
    straight = LineTrainer(TinyConfig(out=str(tmp_path / "s"), epochs=4)).run()
    stopped = LineTrainer(TinyConfig(out=str(tmp_path / "r"), epochs=4, time_limit=1e-9)).run()
    assert stopped["epochs_run"] == 1 and stopped["stop_reason"] == "time_limit"
    resumed = LineTrainer(TinyConfig(out=str(tmp_path / "r"), epochs=4), resume=True).run()
    assert resumed["epochs_run"] == 4 and resumed["weight"] == straight["weight"]


def test_gradient_clipping_hook_is_called_every_step(tmp_path):
    calls = []

    class Clipped(LineTrainer):
        def clip_gradients(self) -> None:
            calls.append(1)

    Clipped(TinyConfig(out=str(tmp_path / "c"), epochs=2)).run()
    assert len(calls) == 2 * 4  # 16 samples in batches of 4, two epochs


def test_classification_with_augmentation_and_mixup_is_seeded_and_resumes_exactly(tmp_path):
    """The task trainers checkpoint every stream they draw from (order, augmentation, mixup): a seeded run
    repeats, and a run stopped after one epoch and resumed ends with the uninterrupted run's weights."""
    from dataclasses import replace

    from tumorscope.options import TrainConfig
    from tumorscope.train.classification import train_classification

    from .test_classification import write_classes

    data = write_classes(tmp_path / "data", per_class=6)
    cfg = TrainConfig(task="classification", data=str(data), model="cnn", size=32, width=4, batch_size=8, threads=1,
                      channels="gray", loss="ce", epochs=3, augment="heavy", mixup=0.2, keep="last", seed=5)

    def weights(run: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / run / "best.pt")

    train_classification(replace(cfg, out=str(tmp_path / "a")))
    train_classification(replace(cfg, out=str(tmp_path / "b")))
    stopped = train_classification(replace(cfg, out=str(tmp_path / "c"), time_limit=1e-9))
    assert stopped["epochs_run"] == 1
    train_classification(replace(cfg, out=str(tmp_path / "c")), resume=True)
    a, b, c = weights("a"), weights("b"), weights("c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.allclose(a[k], c[k]) for k in a)
