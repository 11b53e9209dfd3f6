#!/usr/bin/env bash
# Installs nn's build dependencies on Debian 12 / Ubuntu (as root, or with sudo).
# Skips apt entirely when everything is already installed.
set -euo pipefail
#   --fuzz   also clang and its libFuzzer runtime (tests/fuzz, docs/fuzzing.md)
#   --mpi    also Open MPI (nn::mpi, nn/dist/mpi.hpp: data-parallel training)
#   --onnx   also ONNX and protobuf (nn::onnx, nn/io/onnx.hpp), the ONNX backend
#            test data and python3-onnx (the checker the tests run)
pkgs=(g++ cmake make libeigen3-dev libstb-dev doctest-dev libbenchmark-dev zlib1g-dev)
for a in "$@"; do
  case "$a" in
    --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    --mpi) pkgs+=(libopenmpi-dev openmpi-bin) ;;
    --onnx) pkgs+=(libonnx-dev libprotobuf-dev libonnx-testdata python3-onnx) ;;
    *) echo "install-deps: unknown option $a (known: --fuzz, --mpi, --onnx)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
