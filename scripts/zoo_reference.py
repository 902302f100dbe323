"""Write the drift reference (``reference.json``) of each bundled zoo model from the shared data.

    python scripts/zoo_reference.py                      # every zoo model
    python scripts/zoo_reference.py --models lgg-flair-seg --max-slices 500

Each reference is made on images the bundle was trained or validated on, never on a held-out test part: the
split is rebuilt from the bundle's recorded training options (the same code and seed that made it) and checked
against what the bundle recorded (part sizes; for classifiers every image must lie within the perceptual-hash
distance of the bundle's training fingerprints). As at training time (tumorscope.predict.reference.split_reference)
the validation part is used when there is one, else the training part. When the split cannot be rebuilt and
checked, the dataset's images the bundle's fingerprints mark as trained on are used, and ``source`` says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tumorscope.bundle.training_split import rebuild_split, training_facts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {"lgg-flair-seg": "lgg_mri_segmentation", "brain-mri-tumor-type": "brain_tumor_mri_4class",
            "breast-us-lesion": "busi", "colon-histo-tumor": "histopathology"}


def check_split(bundle: Any, parts: dict[str, list[Any]]) -> list[str]:
    """What does not match the bundle's record (empty: the split is the one it was trained with)."""
    from tumorscope.data.splits import group_key

    problems = []
    facts, cfg = training_facts(bundle.config), bundle.config
    if bundle.task == "segmentation":
        n = {p: len({s.patient_id for s in parts[p]}) for p in ("train", "val", "test")}
        if n["test"] or not n["val"]:
            problems.append(f"parts {n} (expected a train/validation split)")
        example = cfg.get("example_patient")
        if example and example not in {group_key(s) for s in parts["val"]}:
            problems.append(f"the card's validation patient {example} is not in the rebuilt validation part")
        return problems
    for part in ("train", "val"):
        if len(parts[part]) != facts.get(f"n_{part}"):
            problems.append(f"{len(parts[part])} {part} images, the bundle recorded {facts.get(f'n_{part}')}")
    used = [s.image for s in parts["train"] + parts["val"]]
    if unseen := len(used) - int(seen_mask(bundle, used).sum()):
        problems.append(f"{unseen} training/validation image(s) are not among the bundle's training fingerprints")
    return problems


def seen_mask(bundle: Any, paths: list[Path]) -> Any:
    """Which images lie within the bundle's near-duplicate distance of its training fingerprints."""
    from tumorscope.data.hashing import dihedral_phashes, gray_uint8
    from tumorscope.predict.classify import image_array, near_seen

    fp = bundle.config["training_fingerprints"]
    hashes = [dihedral_phashes(gray_uint8(image_array(p))) for p in paths]
    return near_seen(hashes, [int(h, 16) for h in fp["phash"]], fp["near_threshold"])


def make_reference(name: str, data_root: Path, max_slices: int) -> dict[str, Any]:
    from tumorscope.bundle import load_bundle
    from tumorscope.data.volumes import load_stacks
    from tumorscope.predict.reference import classification_reference, segmentation_reference

    bundle = load_bundle(name)
    data = data_root / DATASETS[name]
    label = f"../shared/data/{DATASETS[name]}"
    ds, parts, how = rebuild_split(bundle.config, data)
    problems = check_split(bundle, parts)
    unit = "patients" if bundle.task == "segmentation" else "images"
    if not problems:
        part, items = ("validation", parts["val"]) if parts["val"] else ("training (no validation part)", parts["train"])
        source = f"{part} {unit} of {label}, split rebuilt as {how} and checked against the bundle"
    elif bundle.task == "classification":
        print(f"{name}: split not recovered ({'; '.join(problems)}); using the fingerprinted images", file=sys.stderr)
        items = [s for s, seen in zip(ds.samples, seen_mask(bundle, [s.image for s in ds.samples])) if seen]
        source = (f"images of {label} within phash distance of the bundle's training fingerprints "
                  f"(split not recovered: {'; '.join(problems)})")
    else:
        raise SystemExit(f"{name}: cannot rebuild the training split ({'; '.join(problems)})")
    if bundle.task == "segmentation":
        return segmentation_reference(bundle, load_stacks(items, desc=f"{name}: reading"), source, max_slices)
    return classification_reference(bundle, [s.image for s in items], source, max_slices)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", choices=sorted(DATASETS), default=sorted(DATASETS))
    ap.add_argument("--max-slices", type=int, default=500, help="slices / images per reference (default 500)")
    ap.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)")
    args = ap.parse_args(argv)
    from tumorscope.bundle.bundle import ZOO
    from tumorscope.bundle.reference import write_reference

    for name in args.models:
        ref = make_reference(name, args.data, args.max_slices)
        path = write_reference(ZOO / name, ref)
        print(f"{name}: {path.stat().st_size / 1024:.1f} KiB, features {', '.join(ref['features'])}\n  {ref['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
