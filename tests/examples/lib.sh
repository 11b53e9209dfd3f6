# Helpers shared by the example test drivers (sourced; needs $work set).
# fail MESSAGE: print FAIL and exit 1
fail() { echo "FAIL: $*"; exit 1; }
# expect_error CODE MESSAGE_PART cmd...: the command fails with exit code CODE
# (or any non-zero code for "any"), does not crash, and prints MESSAGE_PART on stderr.
expect_error() {
  local code=$1 msg=$2; shift 2
  "$@" > "$work/out.txt" 2> "$work/err.txt"
  local rc=$?
  [ $rc -ne 0 ] || fail "expected failure from: $*"
  [ $rc -lt 128 ] || fail "crashed (signal $((rc - 128))): $*"
  [ "$code" = any ] || [ $rc -eq "$code" ] || { cat "$work/err.txt"; fail "exit code $rc, expected $code: $*"; }
  grep -qF -- "$msg" "$work/err.txt" || { cat "$work/err.txt"; fail "message '$msg' not printed by: $*"; }
  echo "ok: $* -> exit $rc, '$msg'"
}
