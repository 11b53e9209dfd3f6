#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 30) from a copy of
# the committed seed corpus, under ASan + UBSan. Exits non-zero on the first
# finding; the crashing input is left in WORK/<target>/ (crash-*, leak-*,
# timeout-*, oom-*).
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [WORK]
# NN_FUZZ_TARGETS="image split" runs only those targets.
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS] [WORK]}" && pwd)
secs=${2:-30}
here=$(cd "$(dirname "$0")" && pwd)
work=${3:-$build/fuzz-work}
status=0
for t in ${NN_FUZZ_TARGETS:-model training_state idx image split cli onnx}; do
  bin="$build/tests/fuzz/fuzz_$t"
  if [ "$t" = onnx ] && [ ! -x "$bin" ]; then  # optional: built when CMake finds ONNX
    echo "== fuzz_onnx not built (no nn::onnx): skipped"
    continue
  fi
  [ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 2; }
  mkdir -p "$work/$t/corpus"
  cp -n "$here/corpus/$t/"* "$work/$t/corpus/" 2>/dev/null || true
  echo "== fuzz_$t for ${secs}s"
  if ! (cd "$work/$t" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 corpus \
        > log.txt 2>&1); then
    echo "fuzz_$t FOUND A PROBLEM; the input is in $work/$t:" >&2
    tail -40 "$work/$t/log.txt" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$work/$t/log.txt" | tail -3
  fi
done
exit $status
