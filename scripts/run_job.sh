#!/usr/bin/env bash
# The main job: installs what spartanxx needs (and fetches the SpamAssassin corpus),
# builds spartanxx-tfidf-lr (Release) and runs it on 2 MPI ranks: a spam filter in
# Spark MLlib's form (Tokenizer, HashingTF, IDF, LogisticRegressionWithSGD) trained on
# 75% of the messages and evaluated on the other 25%. Metrics are printed and written to
# build/tfidf-lr-metrics.json. Extra arguments go to spartanxx-tfidf-lr (try --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target spartanxx-tfidf-lr

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# glibc's heap on transparent huge pages: far fewer page faults while reading text.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
mpi_flags=(-x GLIBC_TUNABLES)
if [ "$(nproc)" -lt 2 ]; then mpi_flags+=(--oversubscribe); fi
mpirun -np 2 "${mpi_flags[@]}" build/bin/spartanxx-tfidf-lr \
  --train data/spamassassin.tsv.gz --test-fraction 0.25 \
  --metrics-json build/tfidf-lr-metrics.json "$@"
