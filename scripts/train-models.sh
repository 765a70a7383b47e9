#!/usr/bin/env bash
# Trains the two shipped models from ../shared/data into Weights/, exactly as shipped: the
# settings below are the ones chosen by grouped cross-validation (Weights/README.md shows the
# search). Each run writes NAME.h5, its line in Weights/MANIFEST, NAME.report.json and
# NAME.curves.png. Deterministic for a given seed and core count.
#
#   scripts/train-models.sh            # both models
#   scripts/train-models.sh ct         # one of them
#   DATA=/elsewhere scripts/train-models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
LUNGCT=${LUNGCT:-.build/release/lungct}
[[ -x $LUNGCT ]] || swift build -c release
mkdir -p Weights

ct() {
    "$LUNGCT" train --task ct --data "$DATA/ct-slices" --out Weights/ct-covid.h5 --folds 5 --seed 1 \
        --size 128 --width 16 --blocks 5 --dropout 0.3 --weight-decay 0.05 --epochs 40 --patience 10 \
        --augmentation strong
}

cxr() {
    "$LUNGCT" train --task cxr --data "$DATA/cxr" --out Weights/cxr-3class.h5 --folds 5 --seed 1 \
        --size 128 --width 16 --blocks 5 --dropout 0.3 --weight-decay 0.05 --epochs 30
}

for model in "${@:-ct cxr}"; do
    for name in $model; do "$name"; done
done
