#!/usr/bin/env bash
# Lays out the radiograph classifier's training set as links into ../shared/data, one folder
# per class and one sub-folder per source (the convention `lungct train` and `lungct evaluate`
# read as sources):
#
#   OUT/covid/web-numbered      Kaggle 3-way set, covid/NNN.jpg       (adult, mixed web sources)
#   OUT/covid/web-covid-named   Kaggle 3-way set, covid/COVID-*.jpg   (adult, mixed web sources)
#   OUT/normal/nih              NIH ChestX-ray14, 64 px, no finding   (adult)
#   OUT/normal/kaggle-paediatric  Kaggle 3-way set, normal/           (children)
#   OUT/normal/shenzhen         Shenzhen CHNCXR_*_0 (normal) of cxr-adult/lung-masks (adult)
#   OUT/other/nih               NIH ChestX-ray14, 64 px, with findings (adult)
#   OUT/other/kaggle-paediatric Kaggle 3-way set, viral-pneumonia/    (children)
#
# The Kaggle set's known duplicates are left out (normal/020, viral-pneumonia/020, covid/078,
# covid/COVID-00037: copies of 019, 019, 057 and COVID-00033). The two covid sub-folders are
# the set's two naming families; both come from the same Kaggle compilation of web sources, so
# holding one out is not a truly independent source.
#
#   scripts/cxr-training-set.sh OUT [DATA]
set -euo pipefail
out=${1:?usage: scripts/cxr-training-set.sh OUT [DATA]}
data=$(realpath "${2:-$(dirname "$0")/../../shared/data}")
rm -rf "$out"
link() { # link FOLDER FILES...
    local folder=$1
    shift
    mkdir -p "$folder"
    for file in "$@"; do ln -s "$file" "$folder/"; done
}
shopt -s nullglob
link "$out/covid/web-numbered" "$data"/cxr/covid/[0-9]*.jpg
link "$out/covid/web-covid-named" "$data"/cxr/covid/COVID-*.jpg
link "$out/normal/nih" "$data"/cxr-adult/nih64/normal/*.png
link "$out/normal/kaggle-paediatric" "$data"/cxr/normal/*
link "$out/normal/shenzhen" "$data"/cxr-adult/lung-masks/images/CHNCXR_*_0.png
link "$out/other/nih" "$data"/cxr-adult/nih64/finding/*.png
link "$out/other/kaggle-paediatric" "$data"/cxr/viral-pneumonia/*
rm -f "$out/normal/kaggle-paediatric/020.jpg" "$out/other/kaggle-paediatric/020.jpg" \
    "$out/covid/web-numbered/078.jpg" "$out/covid/web-covid-named/COVID-00037.jpg"
for class in "$out"/*; do
    for source in "$class"/*; do echo "$(basename "$class")/$(basename "$source"): $(ls "$source" | wc -l)"; done
done
