#!/usr/bin/env bash
# The Fashion-MNIST demo: installs what spartanxx needs, builds spartanxx-demo (Release) and runs
# it on 2 MPI ranks: nearest-centroid classification of Fashion-MNIST. Extra arguments
# go to spartanxx-demo (try --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target spartanxx-demo

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_flags=()
if [ "$(nproc)" -lt 2 ]; then mpi_flags+=(--oversubscribe); fi
mpirun -np 2 "${mpi_flags[@]}" build/bin/spartanxx-demo "$@"
