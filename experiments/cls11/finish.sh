#!/usr/bin/env bash
# Round 11: E7 = E6's six ResNet-18s + the DenseNet-121 (after its five folds), then the comparison tables.
set -euo pipefail
P=runs/cls9 Q=runs/cls10 R=runs/cls11
S192="$P/brain_r18_192_s0 $Q/brain_r18_192_s1 $Q/brain_r18_192_s2"
S128="$P/brain_crop_s0 $P/brain_crop_s1 $P/brain_crop_s2"
tumorscope ensemble --cv $S192 $S128 $R/brain_dn121_128_s0 --weights int8 --out $R/brain_ens7 > $R/logs/ens7.log 2>&1
tumorscope compare $P/brain_crop_s0 $R/brain_dn121_128_s0 $Q/brain_ens6 $R/brain_ens7 -o $R/table.md
tumorscope compare --paired $Q/brain_ens6 $R/brain_ens7 -o $R/paired_e7_vs_e6.md
tumorscope compare --paired $P/brain_crop_s0 $R/brain_dn121_128_s0 -o $R/paired_dn_vs_r18.md
