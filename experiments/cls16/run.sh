#!/bin/bash
# Round 16 (docs/classification.md): BUSI --keep best vs last on a new split, one job at a time.
set -e
T=.venv/bin/tumorscope
B="--task classification --data ../shared/data/busi --model resnet18 --width 32 --size 128 --channels gray --epochs 30 --patience 10 --batch-size 16 --lr 0.002 --val-fraction 0.1 --folds 5 --loss ce --threads 1 --splits runs/cls16/busi_splits.json"
[ -f runs/cls16/busi_splits.json ] || $T datasets split ../shared/data/busi --folds 5 --val 0.1 --dedup --seed 16 --out runs/cls16/busi_splits.json
for K in best last; do for S in 0 1 2; do
  $T cv $B --seed $S --keep $K --out runs/cls16/busi_${K}_s$S > runs/cls16/busi_${K}_s$S.log 2>&1
done; done
for K in best last; do
  $T ensemble --cv runs/cls16/busi_${K}_s{0,1,2} --tta off --weights float16 --out runs/cls16/busi_${K}_ens3 > runs/cls16/busi_${K}_ens3.log 2>&1
  $T ensemble --cv runs/cls16/busi_${K}_s{0,1,2} --weights float16 --out runs/cls16/busi_${K}_ens3_ttachoice > runs/cls16/busi_${K}_ens3_ttachoice.log 2>&1
done
echo done
