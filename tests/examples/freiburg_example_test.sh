#!/usr/bin/env bash
# ctest driver for examples/freiburg_groceries: quick runs on the real dataset,
# then bad input (built from copies of real images). Skipped without the data.
#   freiburg_example_test.sh quick|bad-input FREIBURG_BIN PREDICT_BIN WORK_DIR
set -u
mode=$1 fg=$2 predict=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
. "$(dirname "$0")/lib.sh"  # fail, expect_error
# json_number FILE KEY
json_number() { sed -n "s/.*\"$2\": \([-0-9.e]*\).*/\1/p" "$1" | head -1; }

# Locate the dataset the way the program does, to skip cleanly without it.
"$fg" --quick --classes NOT_A_CLASS --out "$work/probe" > "$work/probe.txt" 2>&1
if grep -q "dataset 'freiburg-groceries' not found" "$work/probe.txt"; then
  echo "[nn-skip] Freiburg Groceries not found: $(head -1 "$work/probe.txt")"; exit 0
fi
data=$(sed -n 's/^data: //p' "$work/probe.txt")
[ -d "$data" ] || { cat "$work/probe.txt"; fail "could not find the dataset folder"; }

outputs="history.csv metrics.json curves.png confusion.png confusion.csv predictions.png model.nn classes.txt last.nn"
if [ "$mode" = quick ]; then
  # seed model, official split 0, with the blog's loss (Keras' BCE on the softmax): every output, both
  # accuracies recorded, and the loss went down within the epoch
  "$fg" --quick --split 0 --loss bce --out "$work/seed0" > "$work/seed0.txt" 2>&1 || { cat "$work/seed0.txt"; fail "seed --quick --split 0 --loss bce"; }
  cat "$work/seed0.txt"
  for f in $outputs; do [ -s "$work/seed0/$f" ] || fail "missing output seed0/$f"; done
  head -1 "$work/seed0/history.csv" | grep -q "binary_accuracy.*val_accuracy.*val_binary_accuracy" ||
    fail "history.csv lacks the binary accuracy: $(head -1 "$work/seed0/history.csv")"
  grep -q '"loss": "bce"' "$work/seed0/metrics.json" || fail "metrics.json does not name the loss"
  bin=$(json_number "$work/seed0/metrics.json" test_binary_accuracy)
  awk -v b="$bin" 'BEGIN { exit !(b >= 0 && b <= 1) }' || fail "test_binary_accuracy '$bin' is not a fraction"
  [ ! -e "$work/seed0/best.nn" ] || fail "an official split has no validation set, so no best.nn"
  start=$(json_number "$work/seed0/metrics.json" first_epoch_loss_start)
  end=$(json_number "$work/seed0/metrics.json" first_epoch_loss_end)
  awk -v a="$start" -v b="$end" 'BEGIN { exit !(b < a) }' || fail "loss did not go down: $start -> $end"
  echo "ok: seed model loss went down within the epoch: $start -> $end"
  grep -q '"validation_is": "the split' "$work/seed0/metrics.json" || fail "metrics.json does not say what validation is"
  # seed model, the blog's setting (random 70/20/10 split, balanced)
  "$fg" --quick --out "$work/seedr" > "$work/seedr.txt" 2>&1 || { cat "$work/seedr.txt"; fail "seed --quick"; }
  grep -q "after balancing by augmented oversampling" "$work/seedr.txt" || fail "no balancing reported"
  for f in $outputs best.nn; do [ -s "$work/seedr/$f" ] || fail "missing output seedr/$f"; done
  # the blog's order (balancing copies before the split) with Keras' constants
  "$fg" --quick --balance before-split --keras-defaults --out "$work/blog" > "$work/blog.txt" 2>&1 ||
    { cat "$work/blog.txt"; fail "seed --quick --balance before-split --keras-defaults"; }
  grep -q "the blog's order: .* then split 70/20/10" "$work/blog.txt" || fail "--balance before-split: no split reported"
  grep -q "BatchNorm(momentum 0.01, eps 0.001)" "$work/blog.txt" || fail "--keras-defaults: batch norm not Keras'"
  grep -q '"balance": "before-split"' "$work/blog/metrics.json" || fail "metrics.json does not name the balancing"
  "$fg" --quick --balance none --out "$work/nobal" > "$work/nobal.txt" 2>&1 || { cat "$work/nobal.txt"; fail "seed --quick --balance none"; }
  grep -q "used as they are, not balanced" "$work/nobal.txt" || fail "--balance none: not reported"
  # strong model, two official splits: per-split folders and the summary
  "$fg" --quick --model strong --split all --out "$work/strong" > "$work/strong.txt" 2>&1 || { cat "$work/strong.txt"; fail "strong --quick --split all"; }
  for k in 0 1 2 3 4; do for f in $outputs; do [ -s "$work/strong/split$k/$f" ] || fail "missing output strong/split$k/$f"; done; done
  for f in results.csv metrics.json confusion.png confusion.csv; do [ -s "$work/strong/$f" ] || fail "missing summary $f"; done
  [ "$(wc -l < "$work/strong/results.csv")" -eq 6 ] || fail "results.csv should have a header and 5 splits"
  grep -q "mean test accuracy" "$work/strong.txt" || fail "no mean over splits printed"
  # residual network (a graph model), one official split; its model file is a graph's
  "$fg" --quick --model resnet --split 0 --out "$work/resnet" > "$work/resnet.txt" 2>&1 || { cat "$work/resnet.txt"; fail "resnet --quick --split 0"; }
  for f in $outputs; do [ -s "$work/resnet/$f" ] || fail "missing output resnet/$f"; done
  grep -q "reloaded, it gives the same test predictions" "$work/resnet.txt" || fail "resnet: no save-and-reload check"
  # groceries_predict on real test images with the saved model: top-3 with probabilities
  img=$(find "$data/images/CANDY" -name '*.png' | sort | head -1)
  "$predict" --model "$work/seed0/model.nn" "$img" > "$work/pred.txt" || fail "groceries_predict on $img"
  cat "$work/pred.txt"
  [ "$(grep -o '%' "$work/pred.txt" | wc -l)" -eq 3 ] || fail "expected the top 3 classes with probabilities"
  grep -qE "(CANDY|JUICE|CHOCOLATE|COFFEE|TEA) [0-9.]+%" "$work/pred.txt" || fail "no class names in the prediction"
  "$predict" --model "$work/resnet/model.nn" "$img" > "$work/pred_resnet.txt" || fail "groceries_predict with the resnet model"
  [ "$(grep -o '%' "$work/pred_resnet.txt" | wc -l)" -eq 3 ] || fail "resnet: expected the top 3 classes with probabilities"
  echo "quick runs passed"
  exit 0
fi

# bad input: a small copy of the dataset with a missing and a corrupt image in its split files
d="$work/data"
mkdir -p "$d/images/CANDY" "$d/images/TEA" "$d/splits"
cp "$data/classid.txt" "$d/"
for c in CANDY TEA; do
  for f in $(ls "$data/images/$c" | sort | head -30); do ln -s "$data/images/$c/$f" "$d/images/$c/$f"; done
done
printf 'this is not a PNG file' > "$d/images/CANDY/CANDY9998.png"
lines() { for c in CANDY TEA; do id=$(sed -n "s/^$c \([0-9]*\)$/\1/p" "$d/classid.txt"); ls "$d/images/$c" | sort | sed -n "$1" | sed "s|^|$c/|; s|$| $id|"; done; }
lines '1,20p' | grep -v 9998 > "$d/splits/train0.txt"
lines '21,30p' | grep -v 9998 > "$d/splits/test0.txt"
cp "$d/splits/train0.txt" "$d/splits/train1.txt"; cp "$d/splits/test0.txt" "$d/splits/test1.txt"
echo "CANDY/CANDY9999.png 0" >> "$d/splits/train0.txt"   # listed, but no such file
echo "CANDY/CANDY9998.png 0" >> "$d/splits/train1.txt"   # a corrupt PNG
run="--quick --classes CANDY,TEA --data $d"
expect_error 1 "CANDY9999.png: no such file" "$fg" $run --split 0 --out "$work/o"
expect_error 1 "CANDY9998.png: cannot decode image" "$fg" $run --split 1 --out "$work/o"
expect_error 1 "CANDY9998.png: cannot decode image" "$fg" $run --split random --out "$work/o"
"$fg" $run --split 0 --skip-bad --out "$work/skip0" > "$work/skip.txt" 2>&1 || { cat "$work/skip.txt"; fail "--skip-bad with a missing image"; }
grep -q "skipped 1 of 41 images" "$work/skip.txt" || { cat "$work/skip.txt"; fail "the missing image was not counted"; }
"$fg" $run --split 1 --skip-bad --out "$work/skip1" > "$work/skip.txt" 2>&1 || { cat "$work/skip.txt"; fail "--skip-bad with a corrupt image"; }
grep -q "skipped 1 of 41 images" "$work/skip.txt" || { cat "$work/skip.txt"; fail "the corrupt image was not counted"; }
echo "ok: --skip-bad counts the missing and the corrupt image and trains on the rest"
expect_error 1 "unknown class 'NOODLES' (the classes are: CANDY, JUICE" "$fg" --quick --classes CANDY,NOODLES --data "$data"
expect_error 1 "given twice" "$fg" --quick --classes CANDY,candy --data "$data"
expect_error 1 "--image-size 40 is too small for the seed model" "$fg" --quick --image-size 40 --data "$d" --classes CANDY,TEA
expect_error 1 "--image-size 4 is too small for the strong model" "$fg" --quick --model strong --image-size 4 --data "$d" --classes CANDY,TEA
expect_error 1 "splits/train3.txt: cannot open" "$fg" $run --split 3 --out "$work/o"
expect_error 2 "--model must be seed, strong or resnet" "$fg" --model huge
expect_error 2 "--split must be 0, 1, 2, 3, 4, all or random" "$fg" --split 5
expect_error 2 "--loss must be ce or bce" "$fg" --loss hinge
expect_error 2 "--balance must be train, before-split or none" "$fg" --balance sideways
expect_error 2 "bad value 'many' for --epochs" "$fg" --epochs many
expect_error 1 "no such folder" "$fg" --data "$work/nowhere"
# groceries_predict
expect_error 2 "give at least one image" "$predict"
expect_error 1 "cannot open file" "$predict" --model "$work/missing.nn" x.png
model="$work/skip0/model.nn"
expect_error 1 "CANDY9998.png: cannot decode image" "$predict" --model "$model" "$d/images/CANDY/CANDY9998.png"
expect_error 1 "nothing.png: no such file" "$predict" --model "$model" "$work/nothing.png"
printf 'CANDY 0\nTEA 1\nJAM 2\n' > "$work/three.txt"
expect_error 1 "3 class names, but" "$predict" --model "$model" --classes "$work/three.txt" "$d/images/TEA/$(ls "$d/images/TEA" | head -1)"
echo "all bad-input cases passed"
