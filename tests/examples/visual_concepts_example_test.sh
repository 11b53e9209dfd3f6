#!/usr/bin/env bash
# ctest driver for examples/visual_concepts: a quick run of the four variants
# and a quick comparison on real Fashion-MNIST images (skipped without it),
# the search CLI on the saved model and index, then bad input.
#   visual_concepts_example_test.sh quick|bad-input VISUAL_CONCEPTS_BIN SEARCH_BIN WORK_DIR
set -u
mode=$1 bin=$2 search=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error

if [ "$mode" = quick ]; then
  "$bin" --quick --out "$work/run" > "$work/log.txt" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q "dataset 'fashion-mnist' not found" "$work/log.txt"; then
    echo "[nn-skip] Fashion-MNIST not found: $(head -1 "$work/log.txt")"; exit 0
  fi
  cat "$work/log.txt"
  [ $rc -eq 0 ] || fail "visual_concepts --quick exited $rc"
  for f in tags.csv metrics.json cosines.png neighbours.png model.nn index.nn index.csv concepts.txt query.png; do
    [ -s "$work/run/$f" ] || fail "missing output $f"
  done
  for v in a b c b-softf1; do
    for f in history.csv curves.png; do [ -s "$work/run/$v/$f" ] || fail "missing output $v/$f"; done
    [ "$(wc -l < "$work/run/$v/history.csv")" -eq 3 ] || fail "$v/history.csv: expected a header and 2 epochs"
    # the training loss and the validation loss fall from epoch 1 to epoch 2
    awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
             NR == 2 { l = $col["loss"]; v = $col["val_loss"] }
             NR == 3 { exit !($col["loss"] < l && $col["val_loss"] < v) }' "$work/run/$v/history.csv" ||
      { cat "$work/run/$v/history.csv"; fail "variant $v: the losses did not fall"; }
  done
  # variant c trains all four heads: each loss is in its history
  head -1 "$work/run/c/history.csv" | grep -q "category_loss,super_loss,tags_loss,concepts_loss" ||
    fail "c/history.csv lacks a head's loss"
  [ "$(wc -l < "$work/run/tags.csv")" -eq 15 ] || fail "tags.csv: expected a header and 14 tags"
  for key in '"category_accuracy"' '"probe"' '"cos_present_above_half"' '"search_embedding_precision_at_10"' \
             '"macro_f1_best_threshold"' '"b-softf1"'; do
    grep -q "$key" "$work/run/metrics.json" || fail "metrics.json lacks $key"
  done
  grep -q "reloaded, it gives the same outputs" "$work/log.txt" || fail "no reload check"
  "$search" --model "$work/run/model.nn" --index "$work/run" "$work/run/query.png" > "$work/search.txt" 2>&1 ||
    { cat "$work/search.txt"; fail "visual_concepts_search on query.png"; }
  cat "$work/search.txt"
  grep -q "^category: " "$work/search.txt" || fail "search printed no category"
  # query.png is test image 0, which is in the index: its nearest image is itself
  grep -A1 "nearest indexed images" "$work/search.txt" | tail -1 | grep -q "^  1.000  0,fashion-mnist test 0," ||
    fail "the query's nearest indexed image is not itself"
  "$bin" --quick --compare --out "$work/cmp" > "$work/cmp.txt" 2>&1 || { cat "$work/cmp.txt"; fail "--compare --quick"; }
  [ "$(wc -l < "$work/cmp/compare.csv")" -eq 7 ] || fail "compare.csv: expected 3 variants x 2 seeds + header"
  grep -q '"c_minus_a_probe_map"' "$work/cmp/compare.json" || fail "compare.json lacks the paired tests"
  echo "quick runs passed"
  exit 0
fi
for args in "--bogus" "--tag-loss focal" "--variants abd" "--margin 3" "--width 0" "--compare --seeds 1" "--epochs x"; do
  # shellcheck disable=SC2086
  "$bin" $args > /dev/null 2> "$work/err.txt"
  rc=$?
  [ $rc -eq 2 ] || fail "$args: exit $rc, expected 2"
  grep -q "usage: visual_concepts" "$work/err.txt" || fail "$args: no usage printed"
  echo "ok: $args -> exit 2 with usage"
done
expect_error 1 "no such folder" "$bin" --data "$work/nowhere"
expect_error 1 "unknown tag 'shiny'" "$bin" --quick --probe-tags dark,shiny --out "$work/t"
expect_error 2 "needs --model FILE --index DIR and one IMAGE" "$search" --model "$work/none.nn"
expect_error 1 "none.nn: cannot open file" "$search" --model "$work/none.nn" --index "$work" x.png
printf 'not a model' > "$work/bad.nn"
expect_error 1 "bad.nn" "$search" --model "$work/bad.nn" --index "$work" x.png
echo "bad input passed"
