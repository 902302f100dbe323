"""Package the bundled ``lgg-flair-seg`` ensemble (a thin caller of ``tumorscope models publish lgg-flair-seg``,
kept because the shipped card names this script).

Usage (after the members' CVs, the candidate ensembles and the all-patient members have finished):
    python scripts/package_lgg_flair_seg.py --cv runs/seg/cv_ens3 runs/seg/cv_ens4 \
        --final runs/seg/final_ens3 runs/seg/final_ens4 --flair-only runs/seg/cv_ens_flair
"""

from __future__ import annotations

import sys

from tumorscope.cli import main

if __name__ == "__main__":
    sys.exit(main(["models", "publish", "lgg-flair-seg", *sys.argv[1:]]))
