#!/usr/bin/env bash
# Round 10: the ensembles fixed by the plan, then the comparison tables (after every member's five folds).
set -euo pipefail
P=runs/cls9 R=runs/cls10
S192="$P/brain_r18_192_s0 $R/brain_r18_192_s1 $R/brain_r18_192_s2"
S128="$P/brain_crop_s0 $P/brain_crop_s1 $P/brain_crop_s2"
tumorscope ensemble --cv $S192 --weights int8 --out $R/brain_ens192 > $R/logs/ens192.log 2>&1 &
tumorscope ensemble --cv $S192 $S128 --weights int8 --out $R/brain_ens6 > $R/logs/ens6.log 2>&1
wait
tumorscope compare $R/brain_r18_192_s1 $R/brain_r18_192_s2 $P/brain_ens128 $P/brain_mix4 $R/brain_ens192 $R/brain_ens6 -o $R/table.md
tumorscope compare --paired $P/brain_ens128 $R/brain_ens192 -o $R/paired_192_vs_128.md
tumorscope compare --paired $P/brain_mix4 $R/brain_ens6 -o $R/paired_e6_vs_bundle.md
