#!/usr/bin/env bash
# Rebuild the embedded default's sound (moviegen/assets/audio-tiny/) from nothing: an audio-focused world, the
# DAC-VAE, the audio transformer, the export and the evaluations. Re-running skips finished stages and resumes an
# interrupted one. Measured times on a 2-core CPU are in docs/audio.md.
# Usage: tools/train_embedded_audio.sh [RUNS_DIR]
set -euo pipefail
R=${1:-runs/audio}
mkdir -p "$R"
source "$(dirname "$0")/stage.sh"

[[ -e "$R/world/manifest.jsonl" ]] || moviegen world -o "$R/world" --num 3000 --seed 1
stage audio-codec-tiny     "$R/codec"
stage audio-codec-tiny-mel "$R/codec-mel" --init "$R/codec"
# The log-mel phase twice: the shipped codec is the first run fine-tuned by the same recipe (onset F1 0.48 -> 0.94).
stage audio-codec-tiny-mel "$R/codec-mel-ft" --init "$R/codec-mel"
stage audio-tiny           "$R/audio-tadaln" --codec "$R/codec-mel-ft"
moviegen export --audio "$R/audio-tadaln" --codec "$R/codec-mel-ft" -o "$R/audio-tiny"
moviegen eval audio --checkpoint "$R/audio-tiny" --data "$R/world" -o "$R/eval/audio" --update-card --no-progress
echo "to ship: cp $R/audio-tiny/* moviegen/assets/audio-tiny/"
