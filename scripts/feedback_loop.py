"""The feedback loop end to end on the shared LGG data, corrections simulated from the expert masks.

    python scripts/feedback_loop.py --out runs/feedback_loop            # about 10-15 min on 2 cores
    python scripts/feedback_loop.py --n-before 4 --n-correct 4 --n-eval 4 --epochs 2 --finetune-epochs 2 \\
        --size 64 --width 8 --out runs/feedback_small                   # a smaller, quicker loop

The shipped lgg-flair-seg was trained and validated on every patient of the shared copy, so no patient is unseen
by it. The loop therefore starts from a "before" model trained here, and splits the patients (seeded) into three
disjoint sets: A trains the before model, B goes through the service and its review (the corrections), C is held
out and only ever evaluated. Each step is a real command (printed; its output is in OUT/logs/):

1. ``tumorscope train`` the before model on A;
2. ``tumorscope users add``, ``tumorscope serve``, and the before model installed (``PUT /v1/models/lgg-before``);
3. each B patient folder zipped without its masks and submitted; the model's masks are downloaded and compared with
   the expert's: Dice < --threshold -> ``correct`` with the expert's masks (a multi-page TIFF in the input's
   geometry), else ``accept``;
4. ``tumorscope feedback export``; ``tumorscope datasets inspect`` of it;
5. ``tumorscope train --init OUT/before --data OUT/export`` (the fine-tune);
6. ``tumorscope evaluate`` of both models on C, and the paired difference per patient.

Prints ``Dice before: X [CI], after: Y [CI] on N held-out patients`` and writes OUT/summary.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "lgg_mri_segmentation"
SHIPPED = "lgg-flair-seg"
INSTALLED = "lgg-before"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA, help="a kaggle_3m dataset (default: the shared LGG copy)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "feedback_loop", help="run folder (made anew)")
    p.add_argument("--n-before", type=int, default=15, help="patients of A, the before model's training set")
    p.add_argument("--n-correct", type=int, default=30, help="patients of B, reviewed through the service")
    p.add_argument("--n-eval", type=int, default=0, help="patients of C, held out (default 0: all the rest)")
    p.add_argument("--epochs", type=int, default=40, help="epochs of the before model")
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--finetune-lr", type=float, default=5e-4, help="a quarter of the from-scratch rate")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--channels", default="mri3", help="input channels of both models (see `tumorscope train --help`)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="validation patients of each training run")
    p.add_argument("--replay", action="store_true", help="fine-tune on the export plus set A (the before model's "
                   "own training patients, against forgetting) instead of the export alone")
    p.add_argument("--threshold", type=float, default=0.9, help="correct a case whose Dice vs the expert is below")
    p.add_argument("--threads", type=int, help="torch threads of the training runs (default: all cores)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of the CIs")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def shown(line: str) -> str:
    """A command as typed in the repository root (where the steps run): paths inside it relative."""
    return line.replace(str(REPO) + os.sep, "")


class Steps:
    """Runs ``tumorscope`` commands as a user would type them, logging each one's output to OUT/logs/."""

    def __init__(self, out: Path) -> None:
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.commands: list[str] = []

    def run(self, name: str, *args: str, last: int = 0, keep: tuple[str, ...] = ()) -> str:
        """``tumorscope ARGS``; prints the command, the ``last`` lines of its output and those starting with one of
        ``keep``; returns the output."""
        line = shown("tumorscope " + shlex.join(args))
        self.commands.append(line)
        print(f"\n$ {line}", flush=True)
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "tumorscope", *args], capture_output=True, text=True,
                              env=self.env, cwd=REPO)
        text = proc.stdout + proc.stderr
        (self.logs / f"{name}.log").write_text(text)
        if proc.returncode != 0:
            raise SystemExit(f"`{line}` failed ({proc.returncode}):\n{text[-3000:]}")
        lines = [s for s in proc.stdout.splitlines() if s.strip()]
        for s in [s for s in lines if s.startswith(keep)] if keep else lines[-last:] if last else []:
            print("  " + s)
        print(f"  ({time.monotonic() - start:.0f} s; log: {shown(str(self.logs / (name + '.log')))})", flush=True)
        return proc.stdout


def patients(data: Path) -> dict[str, list[Path]]:
    """Patient id -> its kaggle_3m volume folders (one patient may have two)."""
    from tumorscope.data.layouts.lgg_kaggle3m import patient_dirs, patient_id

    by_patient: dict[str, list[Path]] = {}
    for folder in patient_dirs(data):
        by_patient.setdefault(patient_id(folder.name), []).append(folder)
    return by_patient


def split_patients(by_patient: dict[str, list[Path]], n: tuple[int, int, int],
                   seed: int) -> dict[str, dict[str, list[Path]]]:
    """Seeded disjoint patient sets A, B, C (``n``; C's 0: every patient left)."""
    ids = sorted(by_patient)
    order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    n_a, n_b, n_c = n
    n_c = n_c or len(ids) - n_a - n_b
    if n_a + n_b + n_c > len(ids) or min(n_a, n_b, n_c) < 1:
        raise SystemExit(f"{len(ids)} patients cannot make sets of {n_a} + {n_b} + {n_c}")
    cuts = {"A": order[:n_a], "B": order[n_a:n_a + n_b], "C": order[n_a + n_b:n_a + n_b + n_c]}
    return {k: {p: by_patient[p] for p in sorted(v)} for k, v in cuts.items()}


def linked(folders: list[Path], root: Path) -> Path:
    """A dataset folder of symlinks to ``folders`` (the kaggle_3m layout reads it like the original)."""
    root.mkdir(parents=True)
    for f in folders:
        (root / f.name).symlink_to(f.resolve(), target_is_directory=True)
    return root


def why_not_the_shipped_model(n_patients: int) -> str:
    from tumorscope.bundle import load_bundle

    cfg = load_bundle(SHIPPED, verify=False).config
    seen = cfg.get("headline_metrics", {}).get("patients")
    splits = sorted({m["config"].get("splits") or "" for m in cfg["training"].get("members", [])})
    return (f"{SHIPPED} was trained and validated on {seen} patients (its config.json: members trained with "
            f"{', '.join(splits)}, made with `datasets split --test 0`: training + validation only); this copy has "
            f"{n_patients}, so none is unseen by it. The loop starts from a before model trained here on set A.")


class Service:
    """``tumorscope serve`` on a free loopback port, in its own process group."""

    def __init__(self, steps: Steps, data_dir: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--port", str(self.port), "--data-dir", str(data_dir)]
        steps.commands.append(shown("tumorscope " + shlex.join(args)))
        print(f"\n$ {steps.commands[-1]} &", flush=True)
        self.log = (steps.logs / "serve.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "tumorscope", *args], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=steps.env, cwd=REPO, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    print(f"  ready on {self.url}", flush=True)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"the service did not start: see {steps.logs / 'serve.log'}")

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=300)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.log.close()


def token(output: str) -> str:
    found = re.search(r"^token: (\S+)$", output, re.M)
    if found is None:
        raise SystemExit("no token in the output of `tumorscope users add`")
    return found[1]


def install(service: Service, admin: str, bundle: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(bundle.iterdir()):
            z.write(f, f.name)
    with service.client(admin) as c:
        r = c.put(f"/v1/models/{INSTALLED}", files={"file": ("bundle.zip", buf.getvalue())})
    if r.status_code != 200:
        raise SystemExit(f"installing the before model failed: {r.status_code} {r.text}")
    print(f"  PUT /v1/models/{INSTALLED}: {r.json()['version']}")


def patient_zip(folder: Path) -> bytes:
    """The folder zipped as a clinic sends it: the images, without the expert masks."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.iterdir()):
            if f.suffix == ".tif" and not f.stem.endswith("_mask"):
                z.write(f, f"{folder.name}/{f.name}")
    return buf.getvalue()


def review_volume(c: httpx.Client, folder: Path, threshold: float) -> dict[str, Any]:
    """Submit one volume, compare the model's masks with the expert's, accept or correct; returns the row."""
    import tifffile
    from PIL import Image

    from tumorscope.io import read_mask
    from tumorscope.predict.overlap import dice

    r = c.post("/v1/predictions", files={"file": (f"{folder.name}.zip", patient_zip(folder))},
               data={"model": INSTALLED}, headers={"Prefer": "wait=60"})
    if r.status_code not in (200, 202):
        raise SystemExit(f"{folder.name}: submission failed: {r.status_code} {r.text}")
    pred = r.json()
    while pred["status"] not in ("done", "failed"):
        time.sleep(0.5)
        pred = c.get(f"/v1/predictions/{pred['id']}").json()
    if pred["status"] != "done":
        raise SystemExit(f"{folder.name}: prediction failed: {pred['error']}")
    files = pred["result"]["mask_files"]  # masks/<slice stem>_mask.png, in slice order
    ai = np.stack([np.asarray(Image.open(io.BytesIO(c.get(f"/v1/predictions/{pred['id']}/files/{f}").content))) > 0
                   for f in files])
    stems = [f.removeprefix("masks/").removesuffix("_mask.png") for f in files]
    expert = np.stack([read_mask([folder / f"{s}_mask.tif"]) for s in stems])
    score = dice(ai, expert)
    if score < threshold:
        buf = io.BytesIO()
        tifffile.imwrite(buf, expert.astype(np.uint8) * np.uint8(255), photometric="minisblack")  # pages
        rv = c.post(f"/v1/predictions/{pred['id']}/review", files={"mask": ("expert.tif", buf.getvalue())},
                    data={"decision": "correct", "comment": "simulated: the expert mask"})
    else:
        rv = c.post(f"/v1/predictions/{pred['id']}/review",
                    json={"decision": "accept", "comment": f"simulated: within Dice {threshold} of the expert"})
    if rv.status_code != 200:
        raise SystemExit(f"{folder.name}: review failed: {rv.status_code} {rv.text}")
    return {"volume": folder.name, "prediction": pred["id"], "slices": len(files), "dice_vs_expert": round(score, 4),
            "decision": rv.json()["decision"]}


def trained(run: Path) -> None:
    s = json.loads((run / "train_summary.json").read_text())
    init = f", started from {Path(s['init']['source']).parents[1].name}" if s.get("init") else ""
    print(f"  validation Dice {s['best_score']:.3f} (best epoch {s['best_epoch']} of {s['epochs_run']}; "
          f"{s['train_seconds'] / 60:.1f} min{init})", flush=True)


def scores(eval_dir: Path) -> tuple[Any, dict[str, float]]:
    from tumorscope.results import MetricsReport

    report = MetricsReport.read(eval_dir / "metrics.json")
    return report.estimate("dice_mean"), {str(r["id"]): float(r["dice"]) for r in report.per_case}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from tumorscope.evaluate.bootstrap import bootstrap_ci

    args = parse_args(argv)
    out = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty: give a new --out")
    started = time.monotonic()
    steps = Steps(out)
    by_patient = patients(args.data)
    sets = split_patients(by_patient, (args.n_before, args.n_correct, args.n_eval), args.seed)
    print(why_not_the_shipped_model(len(by_patient)))
    for k, what in (("A", "trains the before model"), ("B", "reviewed through the service"), ("C", "held out")):
        print(f"set {k}: {len(sets[k])} patients ({sum(len(f) for f in sets[k].values())} volumes), {what}")
    (out / "patients.json").write_text(json.dumps({k: sorted(v) for k, v in sets.items()}, indent=2) + "\n")
    data_a = linked([f for fs in sets["A"].values() for f in fs], out / "data" / "A")
    data_c = linked([f for fs in sets["C"].values() for f in fs], out / "data" / "C")
    common = ["--task", "segmentation", "--model", "unet2d", "--size", str(args.size), "--width", str(args.width),
              "--channels", args.channels, "--val-fraction", str(args.val_fraction), "--seed", str(args.seed)]
    common += ["--threads", str(args.threads)] if args.threads else []

    print("\n== 1. the before model, trained on A")
    steps.run("train_before", "train", *common, "--data", str(data_a), "--epochs", str(args.epochs),
              "--patience", str(args.epochs), "--out", str(out / "before"))
    trained(out / "before")

    print("\n== 2. the service, with the before model installed")
    service_dir = out / "service"
    reviewer = token(steps.run("users_reviewer", "users", "add", "reviewer", "--role", "clinician",
                               "--data-dir", str(service_dir)))
    admin = token(steps.run("users_admin", "users", "add", "admin", "--role", "admin", "--data-dir", str(service_dir)))
    service = Service(steps, service_dir)
    try:
        install(service, admin, out / "before" / "bundle")
        print(f"\n== 3. set B through the service: accept when Dice vs the expert >= {args.threshold}, else correct")
        rows = []
        with service.client(reviewer) as c:
            for folder in [f for fs in sets["B"].values() for f in fs]:
                rows.append(review_volume(c, folder, args.threshold))
                row = rows[-1]
                print(f"  {row['volume']}: {row['slices']} slices, Dice {row['dice_vs_expert']:.3f} -> {row['decision']}",
                      flush=True)
    finally:
        service.stop()

    print("\n== 4. export the reviewed cases")
    export = out / "export"
    steps.run("export", "feedback", "export", "--data-dir", str(service_dir), "--model", INSTALLED, "-o", str(export),
              last=8)
    steps.run("inspect", "datasets", "inspect", str(export), keep=("layout", "images", "patients", "masks"))

    print("\n== 5. fine-tune the before model on the export" + (" and set A" if args.replay else ""))
    tune_data = export
    if args.replay:
        tune_data = linked([f for fs in sets["A"].values() for f in fs] + sorted((export / "kaggle_3m").iterdir()),
                           out / "data" / "A+export")
    steps.run("train_after", "train", *common, "--data", str(tune_data), "--init", str(out / "before"), "--epochs",
              str(args.finetune_epochs), "--patience", str(args.finetune_epochs), "--lr", str(args.finetune_lr),
              "--out", str(out / "after"))
    trained(out / "after")

    print("\n== 6. both models on the held-out set C")
    for name in ("before", "after"):
        steps.run(f"evaluate_{name}", "evaluate", "--model", str(out / name), "--data", str(data_c), "--out",
                  str(out / f"eval_{name}"), "--boot", str(args.boot), keep=("patients:", "Dice"))
    before, per_before = scores(out / "eval_before")
    after, per_after = scores(out / "eval_after")
    diffs = np.array([per_after[k] - per_before[k] for k in sorted(per_before)])
    ci = bootstrap_ci(diffs, n_boot=args.boot, seed=args.seed)
    n_eval = before.n
    corrected = sum(r["decision"] == "correct" for r in rows)
    print(f"\nset C: {len(sets['C'])} patients never used for training the before model, for corrections or for "
          f"fine-tuning ({n_eval} volumes scored)")
    print(f"cases reviewed: {len(rows)} ({corrected} corrected, {len(rows) - corrected} accepted)")
    print(f"Dice before: {before.format()}, after: {after.format()} on {n_eval} held-out patients")
    print(f"paired difference (after - before): {diffs.mean():+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]; better on "
          f"{int((diffs > 0).sum())}, worse on {int((diffs < 0).sum())} of {len(diffs)}")
    summary = {
        "sets": {k: sorted(v) for k, v in sets.items()}, "patients_in_data": len(by_patient),
        "reviews": rows, "dice_before": before.to_json(), "dice_after": after.to_json(),
        "paired_difference": {"mean": float(diffs.mean()), "ci95": ci, "better": int((diffs > 0).sum()),
                              "worse": int((diffs < 0).sum()), "n": len(diffs)},
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "commands": steps.commands, "minutes": round((time.monotonic() - started) / 60, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"run folder: {shown(str(out))} ({summary['minutes']} min)")
    return summary


if __name__ == "__main__":
    main()
