"""Hook-based tools (Grad-CAM, Grad-CAM++, embeddings, the report) on an ensemble bundle whose members do not
all vote on every input (lgg-flair-seg: FLAIR-only patients are read by the FLAIR members alone), at any batch
composition. The first two tests reproduce the crashes of issue 24."""

import numpy as np
import pytest
import torch

from tumorscope.errors import TumorscopeError
from tumorscope.explain.evaluate import evaluate_explanations, explainer_for
from tumorscope.explain.evidence import segmentation_evidence
from tumorscope.explain.layers import embeddings, member_layers


def _inputs(bundle, stacks):
    pre = bundle.preprocessor
    return [pre.tensor(s.images, s.id) for s in stacks]


def test_explain_evaluate_survives_a_patient_whose_channels_are_equal(ens):
    """Crash 1: the Grad-CAM layer sat in a member that does not vote on FLAIR-only slices, so monai's hooks
    returned the activations of the last scoring call (11 inputs) with the gradients of the last CAM batch (2)."""
    bundle, _, stacks = ens
    m = evaluate_explanations(bundle, stacks, ("gradcam", "saliency"), steps=10, n_boot=20)
    assert m["n_slices"] == 4 and m["n_patients"] == 2
    for e in m["methods"].values():
        assert e["pointing_game"]["n"] == 4 and np.isfinite(e["energy_in_mask"]["mean"])
    assert "members.0." in m["layer"] and "members.1." in m["layer"]  # both members' layers were used


def test_embeddings_of_an_ensemble_reach_every_member(ens):
    """Crash 2: the forward hook sat in a member that did not run, so ``got[-1]`` raised IndexError."""
    bundle, _, stacks = ens
    model = bundle.model
    full, flair = _inputs(bundle, [stacks[0], stacks[2]])
    dims = set()
    for x in (full, flair, flair[:1]):
        feats, out = embeddings(model, x, "segmentation")
        assert feats.shape[0] == len(x) and out.shape == (len(x), 1, 32, 32) and torch.isfinite(feats).all()
        dims.add(feats.shape[1])
    assert dims == {128}  # both members' 64 bottleneck channels, whichever members vote
    ev = segmentation_evidence(bundle, stacks)
    assert ev.features is not None and ev.features.shape == (12, 128) and len(ev.feature_labels) == 12


def test_member_layers_follow_the_voters(ens):
    bundle, _, stacks = ens
    full, flair = _inputs(bundle, [stacks[0], stacks[2]])
    bottleneck = "model.1.submodule.1.submodule.1.submodule.1.submodule.conv.unit1.adn.A"
    assert [p.path for p in member_layers(bundle.model, full, "segmentation")] == [
        f"members.0.{bottleneck}", f"members.1.{bottleneck}"]
    assert [p.path for p in member_layers(bundle.model, flair, "segmentation")] == [f"members.0.{bottleneck}"]
    assert len(member_layers(bundle.model, flair, "segmentation", voting=False)) == 2
    # --layer: a name inside every member, or one member's full name
    assert [p.member for p in member_layers(bundle.model, full, "segmentation", layer=bottleneck)] == [0, 1]
    assert [p.member for p in member_layers(bundle.model, full, "segmentation", layer=f"members.1.{bottleneck}")] == [1]
    with pytest.raises(TumorscopeError, match="does not vote"):
        member_layers(bundle.model, flair, "segmentation", layer=f"members.1.{bottleneck}")
    with pytest.raises(TumorscopeError, match="no layer 'nope'"):
        member_layers(bundle.model, full, "segmentation", layer="nope")


@pytest.mark.parametrize("method", ["gradcam", "gradcampp"])
def test_cam_on_an_ensemble_at_any_batch_composition(ens, method):
    bundle, _, stacks = ens
    ex = explainer_for(bundle)
    ex.batch_size = 3
    full, flair = _inputs(bundle, [stacks[0], stacks[2]])
    mixed = torch.cat([full, flair[:1]])  # channels differ somewhere in the batch: every member votes
    for x in (full, flair, flair[:1], full[:1], mixed, full):  # partial last batches (4 = 3 + 1), batches of 1
        ex.score(torch.cat([x] * 3), ex.targets(x).select[:1])  # other-sized calls in between, as evaluate makes
        maps = ex.attribute(x, method)
        assert maps.shape == (len(x), 32, 32) and np.isfinite(maps).all() and (maps >= 0).all()
        fresh = explainer_for(bundle)  # no earlier call: nothing stale to borrow (the old code broadcast a
        fresh.batch_size = 3  # batch-of-1 gradient over an 11-image activation and returned 11 maps, silently)
        assert np.allclose(maps, fresh.attribute(x, method), atol=1e-6)


def test_ensemble_cam_is_the_mean_of_the_members_maps(ens):
    """Grad-CAM of the ensemble's score, taken at each voting member's layer and averaged."""
    bundle, _, stacks = ens
    ex = explainer_for(bundle)
    (full,) = _inputs(bundle, [stacks[0]])
    x = full[:2]
    both = ex.attribute(x, "gradcam")
    per = []
    for p in member_layers(bundle.model, x, "segmentation"):
        ex.layer = p.path
        per.append(ex.attribute(x, "gradcam"))
    assert np.allclose(both, np.mean(per, axis=0), atol=1e-6)


def test_evaluate_then_report_draws_an_ensemble_bundle(ens, tmp_path):
    """Crash 2 end to end: ``tumorscope evaluate`` then ``tumorscope report`` on the evaluation folder."""
    from tumorscope.cli import main

    bundle, data, _ = ens
    ev, html = tmp_path / "ev", tmp_path / "r.html"
    assert main(["evaluate", "--model", str(bundle.path), "--data", str(data), "--out", str(ev), "--boot", "20"]) == 0
    assert main(["report", str(ev), "--model", str(bundle.path), "-o", str(html)]) == 0
    page = html.read_text()
    assert 'alt="t-SNE"' in page and 'alt="worst case"' in page  # embeddings and Grad-CAM gallery drawn
    assert "could not be drawn" not in page


def test_explain_one_flair_only_patient_names_the_voting_members_layer(ens, tmp_path):
    import json

    from tumorscope.cli import main

    bundle, data, _ = ens
    patient = sorted((data / "kaggle_3m").iterdir())[2]
    out = tmp_path / "ex"
    assert main(["explain", "--model", str(bundle.path), "-i", str(patient), "-o", str(out), "--method", "gradcam"]) == 0
    summary = json.loads((out / "explain.json").read_text())
    assert summary["layer"].startswith("members.0.") and "members.1." not in summary["layer"]  # the FLAIR member only
    assert summary["slices"] and all((out / r["heatmap"]).exists() for r in summary["slices"])
