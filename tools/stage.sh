# Shared by the tools/train_embedded_*.sh chains: run one training stage, resumably.
# Needs $R (the runs directory, with $R/world).

stage() {  # stage NAME RUN_DIR ARGS...: train unless RUN_DIR/DONE exists; resume when a checkpoint is there
  local recipe=$1 run=$2; shift 2
  if [[ -e "$run/DONE" ]]; then echo "== $recipe: done ($run)"; return; fi
  local resume=()
  [[ -e "$run/checkpoints/latest" ]] && resume=(--resume)
  echo "== $recipe -> $run  $(date -u +%H:%M:%S)"
  SECONDS=0
  moviegen train "$recipe" --data "$R/world" -o "$run" --no-progress "${resume[@]}" "$@"
  echo "$SECONDS" > "$run/DONE"
  echo "== $recipe: ${SECONDS}s"
}
