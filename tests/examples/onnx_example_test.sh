#!/usr/bin/env bash
# ctest driver for examples/onnx (nn-onnx): the PyTorch → ONNX → nn → ONNX path
# on the committed fixtures, then bad input.
#   onnx_example_test.sh quick|bad-input NN_ONNX_BIN WORK_DIR
set -u
mode=$1 tool=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error
fx="$(cd "$(dirname "$0")/../golden/onnx" && pwd)"

if [ "$mode" = quick ]; then
  "$tool" info "$fx/resnet/model.onnx" > "$work/info.txt" || fail "info on the resnet fixture"
  grep -q "LogSoftmax" "$work/info.txt" || { cat "$work/info.txt"; fail "info: no LogSoftmax layer listed"; }
  grep -q "Total params: 19,850" "$work/info.txt" || { cat "$work/info.txt"; fail "info: parameter count"; }
  "$tool" check "$fx/fcn/model.onnx" | grep -q "nn imports it" || fail "check on the fcn fixture"
  # ONNX -> nn file -> ONNX: the same outputs on the fixture's input
  "$tool" import "$fx/lenet/model.onnx" "$work/lenet.nn" || fail "import"
  "$tool" export "$work/lenet.nn" "$work/lenet.onnx" || fail "export"
  "$tool" check "$work/lenet.onnx" | grep -q "passes the ONNX checker" || fail "the exported model fails the checker"
  "$tool" run "$fx/lenet/model.onnx" "$fx/lenet/test_data_set_0/input_0.pb" > "$work/a.txt" || fail "run (PyTorch's)"
  "$tool" run "$work/lenet.onnx" "$fx/lenet/test_data_set_0/input_0.pb" > "$work/b.txt" || fail "run (exported)"
  diff <(tail -n +2 "$work/a.txt") <(tail -n +2 "$work/b.txt") || fail "the exported model's outputs differ"
  # Python's checker with full_check, when python3-onnx is there
  if /usr/bin/python3 -c "import onnx" 2> /dev/null; then
    /usr/bin/python3 -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" \
      "$work/lenet.onnx" || fail "onnx.checker.check_model(full_check=True) on the exported model"
    echo "python onnx.checker full_check: ok"
  else
    echo "(python3-onnx not installed: the Python checker not run)"
  fi
  cat "$work/b.txt"
  echo "quick run: import, export, check and run agree"
  exit 0
fi

# bad input
expect_error 2 "give a command" "$tool"
expect_error 2 "unknown command 'bogus'" "$tool" bogus x
expect_error 2 "run takes a model and at least one input" "$tool" run "$fx/lenet/model.onnx"
expect_error 1 "no-such.onnx: cannot open file" "$tool" info "$work/no-such.onnx"
printf 'not a protobuf at all' > "$work/junk.onnx"
expect_error 1 "junk.onnx: not an ONNX model" "$tool" info "$work/junk.onnx"
head -c 1000 "$fx/lenet/model.onnx" > "$work/cut.onnx"
expect_error 1 "cut.onnx: not an ONNX model" "$tool" info "$work/cut.onnx"
expect_error 1 "takes (N, 1, 28, 28)" "$tool" run "$fx/lenet/model.onnx" "$fx/resnet/test_data_set_0/input_0.pb"
expect_error 1 "cannot open file" "$tool" export "$work/missing.nn" "$work/out.onnx"
echo "all bad-input cases passed"
