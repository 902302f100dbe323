"""Federated training without Flower: sites from TCGA institution codes, the held-out split, the site
trainer (E local epochs on a site's slices), FedAvg's weighted average and the baselines."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.train.federated_data import write_two_sites
from tumorscope.data.dataset import load_dataset
from tumorscope.data.splits import load_splits, select
from tumorscope.data.volumes import load_stacks
from tumorscope.errors import TumorscopeError
from tumorscope.options import TrainConfig
from tumorscope.train.federated_baseline import baseline
from tumorscope.train.federated_local import (
    SiteTrainer,
    get_weights,
    global_model,
    set_weights,
)
from tumorscope.train.federated_sites import OTHER, site_of, site_samples, sites, write_holdout


def test_site_of_reads_the_institution_code():
    assert site_of("TCGA_CS_4941_19960909") == "CS"
    assert site_of("TCGA-HT-7616") == "HT"
    with pytest.raises(TumorscopeError, match="institution code"):
        site_of("patient_007")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_two_sites(tmp_path_factory.mktemp("fed"))


@pytest.fixture(scope="module")
def cfg(data, tmp_path_factory):
    return TrainConfig(task="segmentation", data=str(data), model="unet2d", width=4, size=32, batch_size=4,
                       seed=0, threads=1, out=str(tmp_path_factory.mktemp("run")))


def test_sites_group_patients_and_pool_small_institutions(data):
    ds = load_dataset(data)
    by_site = sites(ds.samples)
    assert sorted(by_site) == ["AA", "BB"]
    assert {s.patient_id[5:7] for s in by_site["AA"]} == {"AA"}
    assert sum(len(v) for v in by_site.values()) == len(ds.samples)
    # institutions under 5 patients are pooled into one site 'other' (kept: 8 patients together)
    pooled = sites(ds.samples, min_patients=5)
    assert list(pooled) == [OTHER] and len(pooled[OTHER]) == len(ds.samples)
    assert sites(ds.samples, min_patients=9) == {}


def test_holdout_is_patient_level_and_sites_use_only_training_patients(data, tmp_path):
    ds = load_dataset(data)
    split = write_holdout(ds, tmp_path / "splits.json", 0.25, seed=0)
    test_patients = {s.patient_id for s in select(ds, split, "test")}
    train_patients = {s.patient_id for s in select(ds, split, "train")}
    assert len(test_patients) == 2 and not test_patients & train_patients
    assert load_splits(tmp_path / "splits.json")[0] == split  # what the clients of a simulation read
    site_a = site_samples(ds, tmp_path / "splits.json", "AA")
    assert site_a and {s.patient_id for s in site_a} <= train_patients - test_patients
    assert all(s.patient_id.startswith("TCGA_AA_") for s in site_a)
    with pytest.raises(TumorscopeError, match="site 'ZZ'"):
        site_samples(ds, tmp_path / "splits.json", "ZZ")


def weighted_average(results):
    """What Flower's FedAvg computes on the server: each array's mean over sites, weighted by examples."""
    total = sum(n for _, n in results)
    return [sum(np.asarray(w[i], dtype=np.float64) * (n / total) for w, n in results) for i in range(len(results[0][0]))]


def test_site_trainer_trains_local_epochs_from_a_common_start(data, cfg):
    ds = load_dataset(data)
    by_site = sites(ds.samples)
    a = SiteTrainer(cfg, load_stacks(by_site["AA"], desc="a"))
    b = SiteTrainer(cfg, load_stacks(by_site["BB"], desc="b"))
    assert a.examples == len(by_site["AA"])  # one training example per slice
    start_a, start_b = get_weights(a.model), get_weights(b.model)
    for x, y in zip(start_a, start_b):  # same seed: every site starts from the same weights
        np.testing.assert_array_equal(x, y)
    loss = a.train_epochs(2)
    assert np.isfinite(loss) and a.epochs_done == 2
    moved = get_weights(a.model)
    assert any(not np.array_equal(x, y) for x, y in zip(start_a, moved))
    # a FedAvg round by hand: average the two sites by their slices, load it back into a site and a global model
    b.train_epochs(1)
    avg = weighted_average([(moved, a.examples), (get_weights(b.model), b.examples)])
    set_weights(b.model, avg)
    for (name, t), w in zip(b.model.state_dict().items(), avg):
        np.testing.assert_allclose(t.double().numpy(), w.astype(t.numpy().dtype), err_msg=name)
    model = global_model(cfg, a.in_channels, avg)
    assert not model.training
    with torch.no_grad():
        assert model(a.x[:2]).shape == (2, 1, 32, 32)


def test_set_weights_refuses_a_wrong_count(cfg):
    model = global_model(cfg, 1, _weights(cfg))
    with pytest.raises(ValueError, match="arrays"):
        set_weights(model, get_weights(model)[:-1])


def _weights(cfg):
    from tumorscope.models import build_model

    return get_weights(build_model(cfg.model, 1, 1, width=cfg.width))


def test_baselines_score_the_same_held_out_patients(data, cfg, tmp_path):
    ds = load_dataset(data)
    write_holdout(ds, tmp_path / "splits.json", 0.25, seed=0)
    central = baseline(replace(cfg, out=str(tmp_path / "central")), tmp_path / "splits.json", "centralised", 1)
    local = baseline(replace(cfg, out=str(tmp_path / "local")), tmp_path / "splits.json", "local", 1)
    assert 0.0 <= central["dice_mean"] <= 1.0 and central["training"]["patients"] == 6
    assert sorted(local["sites"]) == ["AA", "BB"]
    assert sum(v["patients"] for v in local["sites"].values()) == 6
    m = json.loads((tmp_path / "central" / "metrics.json").read_text())
    assert m["n_patients"] == 2 and len(m["per_patient"]) == 2  # the 2 held-out patients, per-patient Dice
    assert (tmp_path / "local" / "AA" / "bundle" / "config.json").exists()
