#!/bin/bash
# Round 16's rule replaced the BUSI bundle: the --keep last recipe on all 128 images (docs/classification.md).
set -e
T=.venv/bin/tumorscope
B="--task classification --data ../shared/data/busi --model resnet18 --width 32 --size 128 --channels gray --epochs 23 --patience 10 --batch-size 16 --lr 0.002 --val-fraction 0 --loss ce --threads 1"
for S in 0 1 2; do
  [ -f runs/cls16/final/busi_r18_s$S/bundle/config.json ] || $T train $B --seed $S --out runs/cls16/final/busi_r18_s$S > runs/cls16/final_s$S.log 2>&1
done
$T ensemble runs/cls16/final/busi_r18_s{0,1,2} --tta off --weights float16 --out runs/cls16/final_busi > runs/cls16/final_ens.log 2>&1
echo done
