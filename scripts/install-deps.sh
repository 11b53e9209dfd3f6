#!/usr/bin/env bash
# Installs nn's build dependencies on Debian 12 / Ubuntu (as root, or with sudo).
# Skips apt entirely when everything is already installed.
set -euo pipefail
pkgs=(g++ cmake make libeigen3-dev libstb-dev doctest-dev libbenchmark-dev zlib1g-dev)
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
