#!/bin/bash
# Round 15's ensembles over the folds every member has finished (re-run to add folds): the rule's (mirror on, int8),
# the per-fold validation choice, and the 12-network ensemble with round 14b's members (reported, not chosen).
T=.venv/bin/tumorscope
NEW="runs/cls15/brain_dn121_128_s3 runs/cls15/brain_dn121_128_s4 runs/cls15/brain_dn121_128_s5 runs/cls15/brain_r18_192_s3 runs/cls15/brain_r18_192_s4 runs/cls15/brain_r18_192_s5"
OLD="runs/cls14/last/brain_dn121_128_s0 runs/cls14/last/brain_dn121_128_s1 runs/cls14/last/brain_dn121_128_s2 runs/cls14/last/brain_r18_192_s0 runs/cls14/last/brain_r18_192_s1 runs/cls14/last/brain_r18_192_s2"
$T ensemble --cv $NEW --tta on --weights int8 --out runs/cls15/brain_confirm > runs/cls15/brain_confirm.log 2>&1
$T ensemble --cv $NEW --weights int8 --out runs/cls15/brain_confirm_ttachoice > runs/cls15/brain_confirm_ttachoice.log 2>&1
$T ensemble --cv $NEW $OLD --tta on --weights int8 --out runs/cls15/brain_confirm12 > runs/cls15/brain_confirm12.log 2>&1
for d in runs/cls15/brain_confirm runs/cls15/brain_confirm_ttachoice runs/cls15/brain_confirm12; do
  python3 -c "
import json; s = json.load(open('$d/cv_summary.json')); p = s['pooled']
print('$d', 'folds', s['folds_done'], 'n', p['n'], 'acc %.4f' % p['accuracy'], 'correct', round(p['accuracy'] * p['n']), 'ci', [round(x, 3) for x in p['ci95']['accuracy']], 'auc %.4f' % p['auc_macro'])"
done
