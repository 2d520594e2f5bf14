#!/usr/bin/env bash
# Builds the liveness training manifest, extracts two-scale face crops with the product's face
# engine (×1, ×2, ×3 and the whole image, plus the product's own cues and score per face), then
# trains and evaluates the small CNN leave-one-source-out. From the repository root:
#
#   training/liveness/run.sh [--data ../shared/data] [--cache data/liveness-training] [train.py options…]
#
# Needs Node 20 with the repository's npm dependencies and Debian's torch for /usr/bin/python3
# (apt-get install -y python3-torch). The cache (manifest, crops, scores, report) holds nothing
# but derived data of ../shared/data: it stays out of git (data/ is ignored). See docs/liveness-training.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA="${FACEPROOF_TEST_DATA:-../shared/data}"
CACHE="${LIVENESS_CACHE:-data/liveness-training}"
TRAIN_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    *) TRAIN_ARGS+=("$1"); shift ;;
  esac
done
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "no torch for $PY: apt-get install -y python3-torch" >&2; exit 1; }
[ -d "$DATA/liveness" ] || { echo "no liveness data under $DATA (give --data DIR)" >&2; exit 1; }
mkdir -p "$CACHE"
"$PY" training/liveness/build_manifest.py --data "$DATA" --out "$CACHE/manifest.new"
# The manifest is replaced (and the crops redone) only when the data changed.
if cmp -s "$CACHE/manifest.new" "$CACHE/manifest.tsv"; then rm "$CACHE/manifest.new"; else mv "$CACHE/manifest.new" "$CACHE/manifest.tsv"; fi
if [ ! -f "$CACHE/crops.json" ] || [ ! -f "$CACHE/crops-whole.u8" ] || [ "$CACHE/manifest.tsv" -nt "$CACHE/crops.json" ] || [ -n "${LIVENESS_RECROP:-}" ]; then
  node --import tsx training/liveness/extract-crops.ts --data "$DATA" --cache "$CACHE"
else
  echo "crops in $CACHE are up to date (LIVENESS_RECROP=1 to redo them)"
fi
"$PY" training/liveness/train.py --cache "$CACHE" ${TRAIN_ARGS[@]+"${TRAIN_ARGS[@]}"}
