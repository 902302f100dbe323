"""The BraTS bundle of a cross-validation, as nnU-Net ships one: the fold models as one network (the mean of
their WT/TC/ET sigmoid probabilities), with the folds' common plan and the post-processing most folds chose."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tumorscope.bundle import Bundle, save_bundle
from tumorscope.errors import TumorscopeError
from tumorscope.models.ensemble import ProbabilityEnsemble


def is_brats_bundle(bundle: Bundle) -> bool:
    return "brats" in bundle.config


def brats_fold_ensemble(bundles: list[Bundle], out: Path, weights_dtype: str = "float16",
                        name: str | None = None) -> dict[str, Any]:
    """Write ``out/bundle``: the fold bundles' mean probability. Their plans must share the spacing and patch;
    the ET rule is the one most folds chose (ties: the smallest); the training section keeps each fold's."""
    first = bundles[0].config
    for b in bundles[1:]:
        if not is_brats_bundle(b):
            raise TumorscopeError("is not a BraTS region bundle: a BraTS ensemble needs BraTS folds", b.path)
        plan, ref = b.config["brats"]["plan"], first["brats"]["plan"]
        if plan["spacing"] != ref["spacing"] or plan["patch_size"] != ref["patch_size"]:
            raise TumorscopeError(f"plan (spacing {plan['spacing']}, patch {plan['patch_size']}) differs from "
                                  f"{bundles[0].path}'s", b.path)
    members = [{"name": b.config["model"]["name"], "in_channels": b.config["model"]["in_channels"],
                "options": b.config["model"].get("options", {}),
                "channels": list(range(b.config["model"]["in_channels"]))} for b in bundles]
    ensemble = ProbabilityEnsemble([b.model for b in bundles], [m["channels"] for m in members],
                                   first["model"]["out_channels"], multilabel=True)
    votes = Counter(b.config["brats"]["postprocessing"]["et_min_voxels"] for b in bundles)
    et_min = min(v for v, n in votes.items() if n == max(votes.values()))
    config = {k: v for k, v in first.items() if k not in ("training", "weights_sha256", "format_version",
                                                          "weights_dtype")}
    config["name"] = name or out.name
    config["model"] = {"name": "ensemble", "in_channels": first["model"]["in_channels"],
                       "out_channels": first["model"]["out_channels"],
                       "options": {"members": members, "multilabel": True}}
    config["brats"] = first["brats"] | {"postprocessing": first["brats"]["postprocessing"] | {"et_min_voxels": et_min}}
    config["training"] = {
        "ensemble_of": [str(b.path) for b in bundles],
        "members": [{**b.config.get("training", {}), "brats_postprocessing": b.config["brats"]["postprocessing"]}
                    for b in bundles],
        "et_min_voxels_votes": {str(k): v for k, v in sorted(votes.items())},
    }
    save_bundle(out / "bundle", ensemble, config, weights_dtype=weights_dtype)
    summary = {"members": len(bundles), "et_min_voxels": et_min, "bundle": str(out / "bundle")}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
