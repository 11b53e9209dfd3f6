#!/usr/bin/env bash
# Downloads the datasets nn's examples use into this folder and verifies them.
#   ./datasets/download.sh [mnist|fashion-mnist|freiburg-groceries|all]   (default: all)
# Needs curl (or wget) and sha256sum/md5sum; Freiburg also needs tar.
# Checks:
#   mnist               SHA-256 of the four original .gz files
#   fashion-mnist       the upstream MD5s published with the dataset
#   freiburg-groceries  SHA-256 of classid.txt and the ten official split
#                       files (the authors' files, byte for byte); the images
#                       come from the authors' archive, whose own checksum is
#                       not pinned here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
what="${1:-all}"

fetch() {  # url dest
  if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"
  else wget -O "$2" "$1"; fi
}
check() {  # tool dir "sum  file" lines on stdin
  local tool="$1" dir="$2"
  (cd "$dir" && "$tool" -c -) || { echo "download.sh: checksum mismatch in $dir" >&2; exit 1; }
}

idx_set() {  # folder base-url tool: fetches the four idx files, then checks the sums on stdin
  local d="$here/$1" base="$2" tool="$3" f
  mkdir -p "$d"
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -f "$d/$f" ] || fetch "$base/$f" "$d/$f"
  done
  check "$tool" "$d"
}

mnist() {
  idx_set mnist "https://ossci-datasets.s3.amazonaws.com/mnist" sha256sum <<'SUMS'
440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6  t10k-labels-idx1-ubyte.gz
SUMS
}

fashion() {
  idx_set fashion-mnist "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com" md5sum <<'SUMS'
8d4fb7e6c68d591d4c3dfef9ec88bf0d  train-images-idx3-ubyte.gz
25c81989df183df01b3e8a0aad5dffbe  train-labels-idx1-ubyte.gz
bef4ecab320f06d8554ea6380940ec79  t10k-images-idx3-ubyte.gz
bb300cfdad3c16e7a12a480ee83cd310  t10k-labels-idx1-ubyte.gz
SUMS
}

freiburg() {
  local d="$here/freiburg-groceries" tmp
  local url="http://aisdatasets.informatik.uni-freiburg.de/freiburg_groceries_dataset/freiburg_groceries_dataset.tar.gz"
  local splits="https://raw.githubusercontent.com/PhilJd/freiburg_groceries_dataset/master"
  mkdir -p "$d/splits"
  if [ ! -d "$d/images" ]; then
    tmp="$(mktemp -d)"
    fetch "$url" "$tmp/fg.tar.gz"
    tar -xzf "$tmp/fg.tar.gz" -C "$tmp"
    mv "$(find "$tmp" -type d -name images | head -1)" "$d/images"
    rm -rf "$tmp"
  fi
  [ -f "$d/classid.txt" ] || fetch "$splits/classid.txt" "$d/classid.txt"
  for i in 0 1 2 3 4; do
    for s in train test; do
      [ -f "$d/splits/$s$i.txt" ] || fetch "$splits/splits/$s$i.txt" "$d/splits/$s$i.txt"
    done
  done
  check sha256sum "$d" <<'SUMS'
aa1874ab7d8d78e7b583705550e326ebf7ae17605ac82ccae2f1e6d47cb5ad24  classid.txt
20086a597ad75c265e0eb63a74d48aa6f1d049b19433e6cb4d8c6d67073cad50  splits/test0.txt
9b4cf3e5bd30d08697a1898f9ceb983b23a3d489d8ca30601bb803991b901413  splits/test1.txt
913f721b85363427a6e7adab0ffebce261be6817841ae0489e6a2c600ee14c47  splits/test2.txt
e83e54044f9ac0b1d9720d81868bacea0f862338c111f174bc6d6470e20416bc  splits/test3.txt
82fcc22ceaf47131605ef87df12422d82c8e5f64073bce8dbbfd6c657ff3b31c  splits/test4.txt
aebaf9f87bc28ef1dd5b92d1c1f7a90634cab585c1009bd7a5209581741b5231  splits/train0.txt
5828646a626c709c11d82e5779c5132fbbed2c90a2981aeeddd7ef4378da2156  splits/train1.txt
fce1ededf6487cc3b01edfc38df3904a2b40176e42fb5c076e0253553b2aacc8  splits/train2.txt
2cadd889e29ddd05428eb8ab131da495c69b8f57982424b4adbbcb65f8b92a25  splits/train3.txt
9efe96df55d3971c9d5a254858dea3550131416656790a2544b9644a88312724  splits/train4.txt
SUMS
  local n
  n=$(find "$d/images" -type f | wc -l)
  echo "freiburg-groceries: $n image files (the dataset has 4,947)"
}

case "$what" in
  mnist) mnist ;;
  fashion-mnist) fashion ;;
  freiburg-groceries) freiburg ;;
  all) mnist; fashion; freiburg ;;
  *) echo "usage: $0 [mnist|fashion-mnist|freiburg-groceries|all]" >&2; exit 2 ;;
esac
echo "download.sh: $what OK"
