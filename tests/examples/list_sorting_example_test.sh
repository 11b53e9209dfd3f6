#!/usr/bin/env bash
# ctest driver for examples/list_sorting: a quick run on a small simulated
# world (no dataset needed), sort_list on its models, then bad input.
#   list_sorting_example_test.sh quick|bad-input LIST_SORTING_BIN SORT_LIST_BIN WORK_DIR
set -u
mode=$1 bin=$2 sorter=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error

if [ "$mode" = quick ]; then
  "$bin" --quick --out "$work/run" > "$work/log.txt" 2>&1 || { cat "$work/log.txt"; fail "list_sorting --quick"; }
  cat "$work/log.txt"
  for f in catalogue.csv stores.csv lists.csv speed.csv metrics.json initial.nn final.nn embedding_initial.png \
           embedding_final.png initial/history.csv initial/curves.png final/history.csv final/curves.png; do
    [ -s "$work/run/$f" ] || fail "missing output $f"
  done
  for m in initial final; do
    [ "$(wc -l < "$work/run/$m/history.csv")" -eq 3 ] || fail "$m/history.csv: expected a header and 2 epochs"
    # the training and validation losses fall from epoch 1 to epoch 2
    awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
             NR == 2 { l = $col["loss"]; v = $col["val_loss"] }
             NR == 3 { exit !($col["loss"] < l && $col["val_loss"] < v) }' "$work/run/$m/history.csv" ||
      { cat "$work/run/$m/history.csv"; fail "$m: the losses did not fall"; }
  done
  for key in '"test_top1"' '"unseen_stores_top1"' '"route_oracle"' '"sort_20_items_ms_median"' '"metres_over_shortest"' \
             '"neighbour_same_department"' '"unseen_sibling_store_top1"' '"speed_by_catalogue_size"'; do
    grep -q "$key" "$work/run/metrics.json" || fail "metrics.json lacks $key"
  done
  # every method sorted every order: 7 methods x 80 test orders, 9 (with the -sibling sorts) x 100 unseen + header
  [ "$(wc -l < "$work/run/lists.csv")" -eq $((7 * 80 + 9 * 100 + 1)) ] || fail "lists.csv: expected 7 x 80 + 9 x 100 rows"
  # the shortest route is never longer than the actual one (list_sorting also checks it against every sort)
  awk -F, '$6 == "actual" { a[$1 $2] = $8 } $6 == "shortest" { s[$1 $2] = $8 }
           END { for (k in s) if (s[k] > a[k] + 1e-6) exit 1 }' "$work/run/lists.csv" || fail "a shortest route is longer than the actual one"
  grep -q "reloaded, it gives the same scores" "$work/log.txt" || fail "no reload check"
  # sort_list on the saved models: products by name, a held-out store
  items=$(awk -F, 'NR > 1 && NR <= 9 { print $2 }' "$work/run/catalogue.csv")
  for m in initial final; do
    # shellcheck disable=SC2086
    "$sorter" --model "$work/run/$m.nn" --store 0 --shopper 1 $items > "$work/sort.txt" 2>&1 ||
      { cat "$work/sort.txt"; fail "sort_list with the $m model"; }
    cat "$work/sort.txt"
    [ "$(grep -c ' p=' "$work/sort.txt")" -eq 8 ] || fail "sort_list ($m) did not print 8 items"
    for it in $items; do grep -qF " $it " "$work/sort.txt" || fail "sort_list ($m) lost $it"; done
  done
  held=$(awk -F, '$3 == "no" { print $1; exit }' "$work/run/stores.csv")
  # shellcheck disable=SC2086
  "$sorter" --model "$work/run/final.nn" --store "$held" --shopper 0 $items > "$work/sort.txt" 2>&1 ||
    { cat "$work/sort.txt"; fail "sort_list in a held-out store"; }
  grep -q "held out of training: using the embedding of store [0-9]* (same chain)" "$work/sort.txt" ||
    fail "no note for a held-out store"
  # shellcheck disable=SC2086
  "$sorter" --model "$work/run/final.nn" --store unknown --shopper 0 $items > "$work/sort.txt" 2>&1 ||
    { cat "$work/sort.txt"; fail "sort_list --store unknown"; }
  grep -q "store unknown, shopper 0" "$work/sort.txt" || fail "--store unknown did not use the unknown-store token"
  # --fastest: training on the fastest shoppers' orders, sorting as the fastest one
  "$bin" --quick --fastest 0.3 --models final --out "$work/fast" > "$work/fast.txt" 2>&1 ||
    { cat "$work/fast.txt"; fail "list_sorting --quick --fastest 0.3"; }
  grep -q "^--fastest 0.3: training on the orders of [0-9]* shoppers" "$work/fast.txt" || fail "--fastest printed no summary"
  grep -q '"fastest_shopper"' "$work/fast/metrics.json" || fail "metrics.json lacks the --fastest summary"
  echo "quick run passed"
  exit 0
fi

for args in "--bogus" "--models both" "--departments 40" "--store-dropout 1" "--orders 5" "--fastest 0" "--epochs x"; do
  # shellcheck disable=SC2086
  "$bin" $args > /dev/null 2> "$work/err.txt"
  rc=$?
  [ $rc -eq 2 ] || fail "$args: exit $rc, expected 2"
  grep -q "usage: list_sorting" "$work/err.txt" || fail "$args: no usage printed"
  echo "ok: $args -> exit 2 with usage"
done
# sort_list needs a model: train the smallest one
"$bin" --quick --models final --epochs 1 --out "$work/run" > "$work/log.txt" 2>&1 || { cat "$work/log.txt"; fail "quick run for sort_list"; }
m="$work/run/final.nn"
item=$(awk -F, 'NR == 2 { print $2 }' "$work/run/catalogue.csv")
expect_error 2 "--model, --store and --shopper are required" "$sorter" "$item"
expect_error 2 "give the items to sort" "$sorter" --model "$m" --store 0 --shopper 0
expect_error 1 "unknown product 'no-such-product'" "$sorter" --model "$m" --store 0 --shopper 0 "$item" no-such-product
expect_error 1 "is listed twice" "$sorter" --model "$m" --store 0 --shopper 0 "$item" "$item"
expect_error 1 "--store '99' is not an integer in [0, " "$sorter" --model "$m" --store 99 --shopper 0 "$item"
expect_error 1 "--shopper 'x' is not an integer" "$sorter" --model "$m" --store 0 --shopper x "$item"
expect_error 1 "no-model.nn" "$sorter" --model "$work/no-model.nn" --store 0 --shopper 0 "$item"
# a catalogue that does not match, or is damaged, is named with its fault
mkdir -p "$work/bad" && cp "$m" "$work/bad/" && cp "$work/run/stores.csv" "$work/bad/"
head -3 "$work/run/catalogue.csv" > "$work/bad/catalogue.csv"
expect_error 1 "do not match" "$sorter" --model "$work/bad/final.nn" --store 0 --shopper 0 "$item"
{ head -2 "$work/run/catalogue.csv"; echo "7,broken"; } > "$work/bad/catalogue.csv"
expect_error 1 "catalogue.csv: line 3: expected id,name,department,aisle" "$sorter" --model "$work/bad/final.nn" --store 0 --shopper 0 "$item"
echo "not a catalogue" > "$work/bad/catalogue.csv"
expect_error 1 "catalogue.csv: line 1 is not the catalogue header" "$sorter" --model "$work/bad/final.nn" --store 0 --shopper 0 "$item"
echo "bad input handled"
