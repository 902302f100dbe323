"""Package the bundled classical tumor-presence model ``lgg-radiomics-<model>``: the run whose validation AUC is
highest among the given classical runs (same split, same features), with a card whose numbers come from the runs'
files (validation metrics.json of every run, the feature table's meta.json).

Usage (after `tumorscope features` and one `tumorscope train --model M` per classical model, docs/classical.md):
    python scripts/package_lgg_radiomics.py runs/lgg_radiomics/{logreg,svm,rf,gbm} \
        [--table runs/lgg_radiomics/lgg_brain.csv] [--zoo tumorscope/bundle/zoo] [--strip PREFIX]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tumorscope.bundle import load_bundle
from tumorscope.bundle.package import package
from tumorscope.results import MetricsReport

KEYS = ("auc", "sensitivity", "specificity", "balanced_accuracy")


def _cell(report: MetricsReport, key: str) -> str:
    e = report.estimate(key)
    return "n/a" if e is None else e.format()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--table", type=Path, help="the feature table the runs read (its meta.json gives the extraction)")
    p.add_argument("--zoo", type=Path, default=Path("tumorscope/bundle/zoo"))
    p.add_argument("--strip", default="", help="a path prefix left out of the commands in the card")
    args = p.parse_args(argv)
    reports = {run: MetricsReport.read(run / "metrics.json") for run in args.runs}
    best = max(args.runs, key=lambda r: reports[r].value("auc"))
    bundle = load_bundle(best)
    model = bundle.config["model"]["name"]
    name = f"lgg-radiomics-{model}"
    rows = ["| model | validation AUC | sensitivity | specificity | balanced accuracy | slices (patients) |",
            "|---|---|---|---|---|---|"]
    for run, r in reports.items():
        cfg = load_bundle(run).config
        mark = " (bundled)" if run == best else ""
        rows.append(f"| {cfg['model']['name']}{mark} | " + " | ".join(_cell(r, k) for k in KEYS)
                    + f" | {r.counts.get('n')} ({getattr(r.estimate('auc'), 'n', '?')}) |")
    commands = [load_bundle(run).config["training"]["command"].replace(args.strip, "") for run in args.runs]
    extraction = ""
    if args.table is not None:
        meta = json.loads(args.table.with_name(args.table.stem + ".meta.json").read_text())
        extraction = (f"\nFeature extraction of all {meta['patients']} patients ({meta['rows']} slices, "
                      f"{meta['columns']} columns): {meta['worker_cpu_seconds']:.0f} CPU s in the workers "
                      f"(= {meta['worker_cpu_seconds'] / 2 / 60:.1f} min on 2 idle cores), {meta['wall_seconds']:.0f} s "
                      f"wall on the shared machine with {meta['jobs']} processes.\n")
    spec = bundle.config["classical"]
    report = reports[best]  # flat numbers, as every zoo bundle's headline (`tumorscope models list` prints them)
    auc = report.estimate("auc")
    headline: dict[str, Any] = {"val_auc": round(report.value("auc"), 3),
                                "val_auc_ci95": [round(v, 3) for v in (auc.ci if auc is not None else None) or []],
                                "val_sensitivity": round(report.value("sensitivity"), 3),
                                "val_specificity": round(report.value("specificity"), 3)}
    card = CARD.format(
        name=name, model=model, table="\n".join(rows), extraction=extraction,
        features_command=f"tumorscope features --data ../shared/data/lgg_mri_segmentation --roi {spec['features']['roi']} "
                         f"--jobs 2 -o {str(args.table).replace(args.strip, '') if args.table else 'lgg_brain.csv'}",
        train_commands="\n".join(commands), n_selected=len(spec["selected"]),
        runs=" ".join(str(r).replace(args.strip, "") for r in args.runs),
        table_name=str(args.table).replace(args.strip, "") if args.table else "TABLE",
        selected=", ".join(spec["selected"][:10]), n_columns=len(spec["columns"]),
        steps="\n".join(f"- {s}" for s in spec["steps"]), n_train=bundle.config["training"].get("n_train"),
        patients=len(spec["training_patients"]))
    training = dict(bundle.config["training"])  # the card's paths: the recorded ones without --strip's prefix
    training["config"] = {k: (v.replace(args.strip, "") if isinstance(v, str) and args.strip else v)
                          for k, v in training["config"].items()}
    training["command"] = training["command"].replace(args.strip, "")
    out = package(best, name, args.zoo / name, card, headline, extra_config={"training": training})
    size = sum(f.stat().st_size for f in Path(out).iterdir()) / 2**20
    print(f"{name}: {out} ({size:.2f} MB)")
    return 0


CARD = """# {name}

Slice-level tumor presence (tumor vs no tumor) in LGG FLAIR MRI slices (kaggle_3m layout) from radiomics features
of the **brain foreground** (Otsu + largest component + holes filled: an ROI that exists for a new patient, never
the expert mask), by a scikit-learn pipeline ({model}): the classical baseline of issue 31's tumor-presence comparison
(docs/classical.md).

```
tumorscope evaluate --model {name} --data ../shared/data/lgg_mri_segmentation --out eval/
tumorscope predict --model {name} -i PATIENT_FOLDER -o out/      # predictions.csv (per slice) + summary.json
```

## Validation (patients never used for fitting; the split of lgg-flair-seg: 15% of patients, seed 0)

95% CIs: percentile bootstrap over patients (2000 resamples). The winner was chosen by validation AUC; with so few
validation patients the models' intervals overlap, so the choice is not a significant difference.

{table}
{extraction}
## How it was made

```
{features_command}
{train_commands}
python scripts/package_lgg_radiomics.py {runs} --table {table_name}
```

Pipeline (fitted on {n_train} slices of {patients} training patients; {n_columns} features in, {n_selected} selected):
{steps}

Selected features (the first 10 of {n_selected}, in column order; their SHAP and permutation importance on the
validation patients: importance.csv / importance.png of the run): {selected}.

## Limits

- Trained and validated on the 83 shared kaggle_3m patients (TCGA LGG, FLAIR); other scanners, sequences or
  skull-stripped images change the foreground and the features.
- The foreground features describe the whole brain slice: large tumors are found more reliably than small ones, and
  the slice's position in the volume (its brain area) is itself informative.
- Not a medical device; research use only.
"""

if __name__ == "__main__":
    sys.exit(main())
