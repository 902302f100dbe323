"""The multi-process hooks in one process: no-ops outside a process group, DDP in a world of one (gloo)."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from tests.train.test_trainer import LineTrainer, TinyConfig
from tumorscope.cli import main
from tumorscope.train import distributed
from tumorscope.train.launch import cpu_cores, launched, threads_per_process

pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this torch build")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def world_of_one(monkeypatch):
    """The variables torchrun gives a worker, for a world of one process."""
    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(name, value)
    assert launched()


def test_outside_a_process_group_every_hook_leaves_one_process_as_it_was(tmp_path):
    model = torch.nn.Linear(2, 1)
    order = torch.randperm(10)
    assert not distributed.active() and distributed.world_size() == 1 and distributed.is_main()
    assert distributed.wrap(model) is model and torch.equal(distributed.shard(order), order)
    assert distributed.all_sum([1.5, 2.0]) == [1.5, 2.0]
    assert distributed.from_main(lambda: {"score": 0.5}) == {"score": 0.5}
    assert distributed.gather("x") == ["x"] and distributed.stream_key() == ()
    assert distributed.output_dir(tmp_path) == tmp_path
    with distributed.session():  # not a torchrun worker: nothing to join
        assert not distributed.active()


def test_inside_a_group_the_model_trains_through_ddp_exactly_as_alone(world_of_one):
    torch.manual_seed(0)
    alone = torch.nn.Linear(3, 1)
    shared = torch.nn.Linear(3, 1)
    shared.load_state_dict(alone.state_dict())
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    with distributed.session():
        assert distributed.active() and dist.get_backend() == "gloo" and distributed.world_size() == 1
        net = distributed.wrap(shared)
        assert isinstance(net, torch.nn.parallel.DistributedDataParallel) and net.module is shared
        for model, forward in ((alone, alone), (shared, net)):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            torch.nn.functional.mse_loss(forward(x), y).backward()
            opt.step()
        record = distributed.describe(shared)
        assert distributed.all_sum([2.0, 3.0]) == [2.0, 3.0] and distributed.gather(7) == [7]
    assert not distributed.active()  # the session leaves the group
    assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), shared.state_dict().values()))
    assert record == {"world_size": 1, "backend": "gloo",
                      "replica_weights_sha256": [distributed.weights_digest(alone)]}


def test_the_trainer_in_a_world_of_one_ends_with_the_single_process_weights(tmp_path, world_of_one, monkeypatch):
    cfg = TinyConfig(out=str(tmp_path / "ddp"), epochs=3)
    with distributed.session():
        in_group = LineTrainer(cfg).run()
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name)
    alone = LineTrainer(replace(cfg, out=str(tmp_path / "alone"))).run()
    assert in_group["weight"] == alone["weight"] and in_group["epochs_run"] == 3
    assert in_group["distributed"]["world_size"] == 1 and "distributed" not in alone
    assert (tmp_path / "ddp" / "checkpoint.pt").exists() and (tmp_path / "ddp" / "best.pt").exists()


def test_shards_split_an_epoch_evenly_and_keep_its_order():
    order = torch.tensor([5, 3, 0, 6, 1, 4, 2])
    a, b = (distributed.shard(order, (2, r)) for r in (0, 1))
    assert a.tolist() == [5, 0, 1, 2] and b.tolist() == [3, 6, 4, 5]  # padded with the first index: equal lengths
    assert set(a.tolist()) | set(b.tolist()) == set(order.tolist())
    assert torch.equal(distributed.shard(order, (1, 0)), order)


def test_each_rank_gets_its_own_augmentation_stream_and_rank_0_keeps_the_seed():
    def draws(rank: int) -> tuple[list[float], list[float]]:
        g, rng = torch.Generator().manual_seed(1), np.random.default_rng(1)
        distributed.own_streams([g, rng], of_rank=rank)
        return torch.rand(3, generator=g).tolist(), rng.random(3).tolist()

    plain = (torch.rand(3, generator=torch.Generator().manual_seed(1)).tolist(), np.random.default_rng(1).random(3).tolist())
    assert draws(0) == plain
    one, two = draws(1), draws(2)
    assert one == draws(1)  # still seeded
    assert one[0] != plain[0] and one[1] != plain[1] and two[0] != one[0] and two[1] != one[1]


def test_threads_are_shared_among_the_processes_of_a_machine():
    assert threads_per_process(None, 1) is None and threads_per_process(3, 1) == 3
    assert threads_per_process(4, 2) == 2 and threads_per_process(1, 2) == 1
    assert threads_per_process(None, 2) == max(1, cpu_cores() // 2)


def test_backend_follows_the_device():
    assert distributed.backend_for("cpu") == "gloo" and distributed.backend_for("cuda:0") == "nccl"


def test_bad_options_are_refused_before_any_process_starts(tmp_path, capsys):
    code = main(["train", "--task", "segmentation", "--data", str(tmp_path), "--nproc", "2", "--epochs", "0",
                 "--out", str(tmp_path / "run")])
    assert code == 2 and "--epochs 0" in capsys.readouterr().err and not Path(tmp_path / "run").exists()
    assert main(["train", "--data", str(tmp_path), "--nproc", "0", "--out", str(tmp_path / "r")]) == 2
