#!/usr/bin/env bash
# A rank that fails must end every rank within seconds, with a non-zero exit
# and its message, while the others wait in a collective.
#   mpi_failure_test.sh MPIEXEC NN_MPI_FAIL
set -u
mpiexec=$1 bin=$2
out=$(mktemp) && trap 'rm -f "$out"' EXIT
for np in 2 3; do
  start=$SECONDS
  timeout 60 "$mpiexec" -n "$np" "$bin" 1 > "$out" 2>&1
  rc=$? elapsed=$((SECONDS - start))
  cat "$out"
  [ $rc -ne 0 ] || { echo "FAIL: exit 0 with $np ranks"; exit 1; }
  [ $rc -ne 124 ] || { echo "FAIL: the ranks hung ($np ranks; killed after 60 s)"; exit 1; }
  grep -q "nn: rank 1 of $np: train.idx: truncated at byte 1234" "$out" || { echo "FAIL: no message from rank 1"; exit 1; }
  [ $elapsed -le 30 ] || { echo "FAIL: took $elapsed s with $np ranks"; exit 1; }
  echo "ok: $np ranks, rank 1 failed: exit $rc after $elapsed s"
done
