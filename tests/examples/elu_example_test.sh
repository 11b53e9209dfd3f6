#!/usr/bin/env bash
# ctest driver for examples/elu_vs_relu: quick runs on Fashion-MNIST (and the
# paper's MNIST MLP), then bad flags.
#   elu_example_test.sh quick|bad-input ELU_BIN WORK_DIR
set -u
mode=$1 bin=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error
if [ "$mode" = quick ]; then
  "$bin" --quick --out "$work/conv" > "$work/log.txt" 2>&1
  rc=$?
  if [ $rc -ne 0 ] && grep -q "dataset 'fashion-mnist' not found" "$work/log.txt"; then
    echo "[nn-skip] Fashion-MNIST not found: $(head -1 "$work/log.txt")"; exit 0
  fi
  cat "$work/log.txt"
  [ $rc -eq 0 ] || fail "elu_vs_relu --quick exited $rc"
  [ "$(grep -c 'bit-identical' "$work/log.txt")" -eq 2 ] || fail "the two runs of each seed were not shown to start identical"
  for f in elu_vs_relu.csv elu_vs_relu.png metrics.json; do [ -s "$work/conv/$f" ] || fail "missing $f"; done
  [ "$(wc -l < "$work/conv/elu_vs_relu.csv")" -eq 9 ] || fail "expected 8 rows (2 activations x 2 seeds x 2 epochs) + header"
  grep -q '"identical_init": true' "$work/conv/metrics.json" || fail "metrics.json lacks identical_init"
  "$bin" --quick --paper-mlp --out "$work/mlp" > "$work/mlp.txt" 2>&1 || { cat "$work/mlp.txt"; fail "--paper-mlp --quick"; }
  [ "$(grep -c 'bit-identical' "$work/mlp.txt")" -eq 4 ] || fail "paper MLP: identical starts not shown"
  for f in paper_mlp.csv paper_mlp.png metrics.json; do [ -s "$work/mlp/$f" ] || fail "missing $f"; done
  echo "quick runs passed"
  exit 0
fi
for args in "--bogus" "--seeds 1" "--dataset cifar" "--epochs x"; do
  # shellcheck disable=SC2086
  "$bin" $args > /dev/null 2> "$work/err.txt"
  rc=$?
  [ $rc -eq 2 ] || fail "$args: exit $rc, expected 2"
  grep -q "usage: elu_vs_relu" "$work/err.txt" || fail "$args: no usage printed"
  echo "ok: $args -> exit 2 with usage"
done
"$bin" --data "$work/nowhere" > /dev/null 2> "$work/err.txt"
[ $? -eq 1 ] && grep -q "no such folder" "$work/err.txt" || fail "--data to a missing folder"
echo "bad flags passed"
