"""The BraTS bundle of a cross-validation, as nnU-Net ships one: the fold models as one network (the mean of
their WT/TC/ET sigmoid probabilities), with the folds' common plan and, for each post-processing size rule, the
median of the folds' choices (the lower one for an even count)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tumorscope.bundle import Bundle, save_bundle
from tumorscope.errors import TumorscopeError
from tumorscope.models.ensemble import ProbabilityEnsemble


def is_brats_bundle(bundle: Bundle) -> bool:
    return "brats" in bundle.config


def brats_fold_ensemble(bundles: list[Bundle], out: Path, weights_dtype: str = "float32",
                        name: str | None = None, tta: bool | None = None) -> dict[str, Any]:
    """Write ``out/bundle``: the fold bundles' mean probability. Their plans must share the spacing and patch;
    each post-processing size rule is the (lower) median of the folds' choices; the training section keeps
    each fold's; ``tta`` makes the mirrored pass the bundle's default."""
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
    posts = [b.config["brats"]["postprocessing"] for b in bundles]
    votes = {key: sorted(int(p.get(key, 0)) for p in posts) for key in ("et_min_voxels", "wt_min_voxels")}
    chosen = {key: values[(len(values) - 1) // 2] for key, values in votes.items()}
    config = {k: v for k, v in first.items() if k not in ("training", "weights_sha256", "format_version",
                                                          "weights_dtype")}
    config["name"] = name or out.name
    config["model"] = {"name": "ensemble", "in_channels": first["model"]["in_channels"],
                       "out_channels": first["model"]["out_channels"],
                       "options": {"members": members, "multilabel": True}}
    config["brats"] = first["brats"] | {"postprocessing": first["brats"]["postprocessing"] | chosen,
                                        "tta": bool(tta)}
    config["training"] = {
        "ensemble_of": [str(b.path) for b in bundles],
        "members": [{**b.config.get("training", {}), "brats_postprocessing": b.config["brats"]["postprocessing"]}
                    for b in bundles],
        "postprocessing_choices": votes,
    }
    save_bundle(out / "bundle", ensemble, config, weights_dtype=weights_dtype)
    summary = {"members": len(bundles), "postprocessing": chosen, "tta": bool(tta), "bundle": str(out / "bundle")}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
