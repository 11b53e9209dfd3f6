#!/usr/bin/env bash
# ctest driver for examples/segmentation: a quick run and a quick comparison
# on canvases of real MNIST digits (skipped without MNIST), the segment CLI on
# the saved model, then bad input.
#   segmentation_example_test.sh quick|bad-input SEGMENTATION_BIN SEGMENT_BIN WORK_DIR
set -u
mode=$1 bin=$2 segment=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error

if [ "$mode" = quick ]; then
  "$bin" --quick --out "$work/run" > "$work/log.txt" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q "dataset 'mnist' not found" "$work/log.txt"; then
    echo "[nn-skip] MNIST not found: $(head -1 "$work/log.txt")"; exit 0
  fi
  cat "$work/log.txt"
  [ $rc -eq 0 ] || fail "segmentation --quick exited $rc"
  for f in history.csv curves.png metrics.json confusion.csv overlays.png test_canvas.png model.nn; do
    [ -s "$work/run/$f" ] || fail "missing output $f"
  done
  [ "$(wc -l < "$work/run/history.csv")" -eq 3 ] || fail "history.csv: expected a header and 2 epochs"
  # the training loss and the validation loss fall from epoch 1 to epoch 2
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
           NR == 2 { l = $col["loss"]; v = $col["val_loss"] }
           NR == 3 { exit !($col["loss"] < l && $col["val_loss"] < v) }' "$work/run/history.csv" ||
    { cat "$work/run/history.csv"; fail "the losses did not fall"; }
  grep -q '"receptive_field": 135' "$work/run/metrics.json" || fail "metrics.json: receptive field of the dilated FCN is not 135"
  grep -q "reloaded, it gives the same test predictions" "$work/log.txt" || fail "no reload check"
  "$segment" --model "$work/run/model.nn" --out "$work/masks" "$work/run/test_canvas.png" > "$work/seg.txt" ||
    { cat "$work/seg.txt"; fail "segment on the test canvas"; }
  cat "$work/seg.txt"
  [ -s "$work/masks/test_canvas.mask.png" ] || fail "segment wrote no mask"
  grep -q "digits:" "$work/seg.txt" || fail "segment printed no digits line"
  "$bin" --quick --epochs 1 --upsample transposed --out "$work/tr" > "$work/tr.txt" 2>&1 ||
    { cat "$work/tr.txt"; fail "--upsample transposed --quick"; }
  grep -q "Conv2DTranspose" "$work/tr.txt" || fail "--upsample transposed: no Conv2DTranspose in the summary"
  grep -q "reloaded, it gives the same test predictions" "$work/tr.txt" || fail "--upsample transposed: no reload check"
  "$bin" --quick --compare --seeds 2 --out "$work/cmp" > "$work/cmp.txt" 2>&1 || { cat "$work/cmp.txt"; fail "--compare --quick"; }
  [ "$(wc -l < "$work/cmp/compare.csv")" -eq 9 ] || fail "compare.csv: expected 4 variants x 2 seeds + header"
  grep -q '"dilated_minus_plain_p"' "$work/cmp/compare.json" || fail "compare.json lacks the paired test"
  grep -q "| plain | ce+dice |" "$work/cmp.txt" || fail "no comparison table printed"
  echo "quick runs passed"
  exit 0
fi
for args in "--bogus" "--loss focal" "--context wide" "--upsample cubic" "--canvas 30" "--seeds 0" "--bg-weight 0" "--epochs x"; do
  # shellcheck disable=SC2086
  "$bin" $args > /dev/null 2> "$work/err.txt"
  rc=$?
  [ $rc -eq 2 ] || fail "$args: exit $rc, expected 2"
  grep -q "usage: segmentation" "$work/err.txt" || fail "$args: no usage printed"
  echo "ok: $args -> exit 2 with usage"
done
expect_error 1 "no such folder" "$bin" --data "$work/nowhere"
expect_error 2 "give at least one image" "$segment" --model "$work/none.nn"
expect_error 1 "none.nn: cannot open file" "$segment" --model "$work/none.nn" x.png
printf 'not a model' > "$work/bad.nn"
expect_error 1 "bad.nn" "$segment" --model "$work/bad.nn" x.png
echo "bad input passed"
