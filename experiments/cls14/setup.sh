# Copies of the six E3D3R members (best.pt / checkpoint.pt linked, never written on a finished run's resume)
set -e
for src in runs/cls11/brain_dn121_128_s0 runs/cls11/brain_dn121_128_s1 runs/cls12/brain_dn121_128_s2 \
           runs/cls9/brain_r18_192_s0 runs/cls10/brain_r18_192_s1 runs/cls10/brain_r18_192_s2; do
  dst=runs/cls14/$(basename $src)_pbn
  mkdir -p $dst && cp $src/cv_config.json $dst/
  for f in 0 1 2 3 4; do
    mkdir -p $dst/fold$f
    for x in config.json splits.json dedup.json metrics.csv train_summary.json training_curves.png; do
      [ -e $src/fold$f/$x ] && cp $src/fold$f/$x $dst/fold$f/
    done
    ln -sf "$PWD/$src/fold$f/best.pt" $dst/fold$f/best.pt
    ln -sf "$PWD/$src/fold$f/checkpoint.pt" $dst/fold$f/checkpoint.pt
  done
done
