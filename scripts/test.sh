#!/usr/bin/env bash
# Installs what spartanxx needs, builds it (Release) in build/ and runs every test, then
# the whole suite again under AddressSanitizer and UndefinedBehaviorSanitizer, fuzzers
# included (scripts/test_sanitized.sh, in build-sanitize/;
# SPARTANXX_SANITIZED=0 skips it). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

# mpirun refuses root unless told; CI runs as root. No ctest -j: the MPI tests
# oversubscribe the cores already.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build --output-on-failure --no-tests=error

if [ "${SPARTANXX_SANITIZED:-1}" != 0 ]; then
  bash scripts/test_sanitized.sh
fi
