#!/usr/bin/env bash
# Round 9: the ensembles fixed by the plan, then the comparison tables (run after every member's five folds).
set -euo pipefail
R=runs/cls9
tumorscope ensemble --cv $R/brain_r18_192_s0 $R/brain_crop_s0 $R/brain_crop_s1 $R/brain_crop_s2 --weights int8 --out $R/brain_mix4 > $R/logs/mix4.log 2>&1 &
tumorscope ensemble --cv $R/brain_crop_s0 $R/brain_crop_s1 $R/brain_crop_s2 --weights int8 --out $R/brain_ens128 > $R/logs/ens128.log 2>&1
wait
tumorscope ensemble --cv $R/brain_r18_192_s0 $R/brain_crop_s0 $R/brain_crop_s1 --weights int8 --out $R/brain_mix3 > $R/logs/mix3.log 2>&1
tumorscope compare $R/brain_r18_192_s0 $R/brain_crop_s0 $R/brain_crop_s1 $R/brain_crop_s2 $R/brain_ens128 $R/brain_mix3 $R/brain_mix4 -o $R/table.md
tumorscope compare --paired $R/brain_crop_s0 $R/brain_r18_192_s0 -o $R/paired_192_vs_128.md
tumorscope compare --paired $R/brain_ens128 $R/brain_mix3 $R/brain_mix4 -o $R/paired_ens.md
