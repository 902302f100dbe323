#!/usr/bin/env bash
# Round 12: E3D = three DenseNet-121 seeds; E3D3R = those + the three 192-px ResNet-18s; then the comparison tables.
set -euo pipefail
P=runs/cls9 Q=runs/cls10 R=runs/cls11 T=runs/cls12
S192="$P/brain_r18_192_s0 $Q/brain_r18_192_s1 $Q/brain_r18_192_s2"
DN="$R/brain_dn121_128_s0 $R/brain_dn121_128_s1 $T/brain_dn121_128_s2"
tumorscope ensemble --cv $DN $S192 --weights int8 --out $T/brain_e3d3r > $T/logs/e3d3r.log 2>&1
tumorscope ensemble --cv $DN --weights int8 --out $T/brain_e3d > $T/logs/e3d.log 2>&1
tumorscope compare $R/brain_dn121_128_s0 $R/brain_dn121_128_s1 $T/brain_dn121_128_s2 $T/brain_e3d $Q/brain_ens6 $T/brain_e3d3r -o $T/table.md
tumorscope compare --paired $Q/brain_ens6 $T/brain_e3d3r -o $T/paired_e3d3r_vs_e6.md
