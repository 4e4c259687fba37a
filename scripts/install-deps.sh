#!/usr/bin/env bash
# Installs the Debian packages klpemu needs (design.md §2), and only those that are missing.
# Quiet and quick when everything is present; needs root (or sudo) only when something is not.
set -euo pipefail

packages=(
  build-essential cmake pkg-config make
  libunicorn-dev
  llvm-19-dev clang-19 lld-19 libzstd-dev
  libclang-rt-19-dev
  gcc-aarch64-linux-gnu
  doctest-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libedit-dev
  gdb-multiarch
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "klpemu: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "klpemu: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "klpemu: packages installed"
