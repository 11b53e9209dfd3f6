#!/usr/bin/env bash
# ctest driver for examples/mnist: the quick run on real data, then bad input.
#   mnist_example_test.sh quick|bad-input MNIST_BIN MNIST_PREDICT_BIN NN_QUANTIZE_BIN WORK_DIR
set -u
mode=$1 mnist=$2 predict=$3 quantize=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error

if [ "$mode" = quick ]; then
  "$mnist" --quick --int8 --bf16 --out "$work/run" > "$work/log.txt" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q "dataset 'mnist' not found" "$work/log.txt"; then
    echo "[nn-skip] MNIST not found: $(head -1 "$work/log.txt")"; exit 0
  fi
  cat "$work/log.txt"
  [ $rc -eq 0 ] || fail "mnist --quick exited $rc"
  for f in history.csv metrics.json curves.png confusion.png confusion.csv model.nn model.int8.nn model.bf16.nn best.nn last.nn; do
    [ -s "$work/run/$f" ] || fail "missing output $f"
  done
  acc=$(sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p' "$work/run/metrics.json")
  awk -v a="$acc" 'BEGIN { exit !(a > 0.97) }' || fail "test accuracy $acc is not above 0.97"
  grep -q "reloaded, it gives the same test predictions" "$work/log.txt" || fail "no reload check"
  # --int8 --bf16: each model within half a point of float, saved and reloaded
  for p in int8 bf16; do
    qacc=$(sed -n "s/.*\"${p}_test_accuracy\": \([0-9.]*\).*/\1/p" "$work/run/metrics.json")
    awk -v a="$acc" -v q="$qacc" 'BEGIN { d = a - q; if (d < 0) d = -d; exit !(q != "" && d <= 0.005) }' ||
      fail "$p test accuracy '$qacc' is not within 0.005 of float $acc"
  done
  [ "$(grep -c "reloaded, it gives the same test predictions" "$work/log.txt")" -eq 3 ] || fail "no int8/bf16 reload check"
  # nn-quantize on the saved float model: two int8 calibrations and bf16, the first saved and reloaded
  "$quantize" --model "$work/run/model.nn" --precision both --calibration minmax,mse --calibration-samples 64 --out "$work/q.nn" \
    > "$work/quant.txt" 2>&1 || { cat "$work/quant.txt"; fail "nn-quantize exited $?"; }
  cat "$work/quant.txt"
  grep -q "^int8 min-max " "$work/quant.txt" && grep -q "^int8 mse " "$work/quant.txt" && grep -q "^bf16 " "$work/quant.txt" ||
    fail "nn-quantize: a row is missing"
  grep -q "saved $work/q.nn; reloaded" "$work/quant.txt" || fail "nn-quantize: no saved model"
  # mnist_predict with the saved model: any PNG decodes and gets probabilities; a non-image is an error
  "$predict" --model "$work/run/model.nn" "$work/run/confusion.png" > "$work/pred.txt" || fail "mnist_predict on a PNG"
  grep -q "9:0\." "$work/pred.txt" || { cat "$work/pred.txt"; fail "no probabilities printed"; }
  expect_error 1 "history.csv: cannot decode image" "$predict" --model "$work/run/model.nn" "$work/run/history.csv"
  expect_error 1 "no-such.png: no such file" "$predict" --model "$work/run/model.nn" "$work/no-such.png"
  # --distributed --sync-bn on 2 MPI ranks, when mpirun exists and this mnist was built with MPI
  if command -v mpirun > /dev/null; then
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1 \
      timeout 300 mpirun -n 2 "$mnist" --quick --distributed --sync-bn --out "$work/dist" > "$work/dist.txt" 2>&1
    rc=$?
    if grep -q "this build has no MPI" "$work/dist.txt"; then
      echo "(this mnist was built without MPI: --distributed not run)"
    else
      cat "$work/dist.txt"
      [ $rc -eq 0 ] || fail "mpirun -n 2 mnist --quick --distributed exited $rc"
      grep -q "data-parallel on 2 ranks: batch 64 per rank, 128 per step, batch norm synchronized" "$work/dist.txt" ||
        fail "--distributed: no 2-rank summary"
      dacc=$(sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p' "$work/dist/metrics.json")
      awk -v a="$dacc" 'BEGIN { exit !(a > 0.97) }' || fail "--distributed: test accuracy $dacc is not above 0.97"
      grep -q '"ranks": 2' "$work/dist/metrics.json" || fail "--distributed: metrics.json does not say 2 ranks"
      [ "$(grep -c "^train time" "$work/dist.txt")" -eq 1 ] || fail "--distributed: more than rank 0 reported"
      echo "distributed quick run: test accuracy $dacc"
    fi
  fi
  echo "quick run: test accuracy $acc"
  exit 0
fi

# bad input
expect_error 2 "unknown flag --bogus" "$mnist" --bogus
expect_error 2 "bad value 'x' for --epochs" "$mnist" --epochs x
expect_error 2 "--model must be cnn, lenet or mlp" "$mnist" --model rnn
expect_error 2 "--sync-bn needs --distributed" "$mnist" --sync-bn
expect_error 2 "--calibration: unknown calibration 'median'" "$mnist" --int8 --calibration median
expect_error 2 "--model is required" "$quantize"
expect_error 2 "--calibration: calibration 'percentile:x': 'x' is not a number" "$quantize" --model m.nn --calibration percentile:x
expect_error 2 "--precision must be int8, bf16 or both" "$quantize" --model m.nn --precision fp8
expect_error 1 "$work/none.nn: cannot open file" "$quantize" --model "$work/none.nn"
printf 'junk' > "$work/junk.nn"
expect_error 1 "$work/junk.nn: not an nn model file" "$quantize" --model "$work/junk.nn"
expect_error 1 "no such folder" "$mnist" --data "$work/nowhere"
mkdir -p "$work/corrupt"
printf 'not an idx file at all' > "$work/corrupt/train-images-idx3-ubyte"
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp "$work/corrupt/train-images-idx3-ubyte" "$work/corrupt/$f"; done
expect_error 1 "$work/corrupt/train-images-idx3-ubyte: bad magic" "$mnist" --data "$work/corrupt"
printf '\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x1c\x00\x00\x00\x1c\x01\x02' > "$work/corrupt/train-images-idx3-ubyte"
expect_error 1 "train-images-idx3-ubyte: truncated" "$mnist" --data "$work/corrupt"
elsewhere=$(mktemp -d)  # outside the repo, so the search of parent folders finds nothing
(cd "$elsewhere" && expect_error 1 "Looked in:" env NN_DATA_DIR="$work/empty" "$mnist" --epochs 1) || exit 1
rmdir "$elsewhere"
expect_error 2 "give at least one image" "$predict"
expect_error 2 "unknown flag --nope" "$predict" --nope x.png
expect_error 1 "cannot open file" "$predict" --model "$work/missing.nn" x.png
printf 'NNMODEL\0garbage' > "$work/bad.nn"
expect_error 1 "bad.nn: truncated" "$predict" --model "$work/bad.nn" x.png
echo "all bad-input cases passed"
