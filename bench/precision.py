"""CPU precision and memory-layout benchmark for the 2D classifiers: is bf16 autocast worth it on this CPU?

Times one training step (forward, backward, AdamW step) and one inference batch of the bundled brain
member's network (ResNet-18 w32 at 128 px, batch 32, gray) in four ways, in one process, interleaved:

- ``fp32``: float32, contiguous (NCHW) tensors - the baseline every ratio is against;
- ``fp32_cl``: float32 with channels-last tensors and weights;
- ``bf16`` / ``bf16_cl``: the same under CPU bfloat16 autocast.

and says which of them ``tumorscope`` runs here (bf16 only where the CPU has AVX512-BF16 or AMX; see
``tumorscope/models/precision.py``). Medians of ``--repeats`` rounds after ``--warmup`` untimed ones.
On an AVX2-only CPU emulated bf16 is an order of magnitude slower than float32; with native bf16 it is
several times faster.

    python bench/precision.py [--size 128] [--width 32] [--batch 32] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.seg_inference import interleaved_medians  # noqa: E402
from tumorscope.models import build_model  # noqa: E402
from tumorscope.models.precision import compute_dtype, cpu_description  # noqa: E402

WAYS = {"fp32": (False, False), "fp32_cl": (False, True), "bf16": (True, False), "bf16_cl": (True, True)}


def step_fns(model_name: str, size: int, width: int, batch: int) -> dict[str, Callable[[], object]]:
    """``<way>_train`` and ``<way>_infer`` callables for each way, each on its own copy of the network."""
    fns: dict[str, Callable[[], object]] = {}
    for way, (bf16, cl) in WAYS.items():
        fmt = torch.channels_last if cl else torch.contiguous_format
        torch.manual_seed(0)
        model = build_model(model_name, 1, 4, width=width, size=size).to(memory_format=fmt)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randn(batch, 1, size, size).contiguous(memory_format=fmt)
        y = torch.randint(0, 4, (batch,))

        def train(model: torch.nn.Module = model, opt: torch.optim.Optimizer = opt, x: torch.Tensor = x,
                  y: torch.Tensor = y, bf16: bool = bf16) -> None:
            model.train()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # forced: measure both here
                logits = model(x).float()
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def infer(model: torch.nn.Module = model, x: torch.Tensor = x, bf16: bool = bf16) -> None:
            model.eval()
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                model(x).float()

        fns[f"{way}_train"], fns[f"{way}_infer"] = train, infer
    return fns


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (training jobs here use 1 each)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results here")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    secs = interleaved_medians(step_fns(a.model, a.size, a.width, a.batch), a.repeats, a.warmup)
    out: dict[str, object] = {"cpu": cpu_description(), "tumorscope_computes_in": compute_dtype(True),
                              "seconds": secs, "args": {k: str(v) for k, v in vars(a).items()}}
    print(f"{a.model} w{a.width} {a.size}px, batch {a.batch}, {a.threads} thread(s); cpu: {out['cpu']}")
    print(f"{'way':<9} {'train s/batch':>13} {'vs fp32':>8} {'infer s/batch':>13} {'vs fp32':>8}")
    for way in WAYS:
        tr, inf = secs[f"{way}_train"], secs[f"{way}_infer"]
        print(f"{way:<9} {tr:13.3f} {secs['fp32_train'] / tr:7.2f}x {inf:13.3f} {secs['fp32_infer'] / inf:7.2f}x")
    print(f"tumorscope computes in {out['tumorscope_computes_in']} here (bf16 requested, the default)")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
