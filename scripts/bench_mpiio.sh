#!/usr/bin/env bash
# Open MPI's two MPI-IO components under spartanxx's HDF5 reads and writes, in the same
# run: ompio (Open MPI's default, what spartanxx uses unless OMPI_MCA_io says otherwise)
# and romio321. A dense float64 array (default 1 GiB) and a CSR matrix (default 10 M
# entries), written with fsync and read with the page cache dropped (root), runs
# alternating between the components; medians of REPS runs at 1 and 2 ranks.
# Correctness of both is tested by the CTest test h5py_interop.
#
#   bash scripts/bench_mpiio.sh [DIR] [REPS] [ROWS COLS] [SPARSE_ROWS SPARSE_COLS PER_ROW]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-/tmp/spartanxx-bench-mpiio}
reps=${2:-5}
rows=${3:-16384} cols=${4:-8192}
srows=${5:-1000000} scols=${6:-1000000} per=${7:-10}
exe=$here/build/bin/spartanxx-bench-io
[ -x "$exe" ] || { echo "build first: cmake --build build --target spartanxx_bench_io"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$dir"
out=$dir/results.jsonl
: >"$out"
drop() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; else echo "warning: cannot drop the page cache" >&2; fi
}
for ((r = 1; r <= reps; ++r)); do
  for io in ompio romio321; do
    for np in 1 2; do
      for kind in dense sparse; do
        rm -f "$dir/x.h5"
        if [ $kind = dense ]; then args=("$rows" "$cols"); else args=("$srows" "$scols" "$per"); fi
        w=$(mpirun --mca io $io -np $np "$exe" $kind-write "$dir/x.h5" "${args[@]}")
        drop
        rd=$(mpirun --mca io $io -np $np "$exe" $kind-read "$dir/x.h5")
        for m in "$w" "$rd"; do echo "{\"io\": \"$io\", ${m#\{}" | tee -a "$out"; done
      done
    done
  done
done
rm -f "$dir/x.h5"
python3 - "$out" <<'PY'
import collections, json, statistics, sys
runs, size = collections.defaultdict(list), {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    k = (m["op"], m["ranks"], m["io"])
    runs[k].append(m["seconds"])
    size[k] = m["bytes"]
print("\nmedians of %d runs (GB/s of the array's bytes); ratio romio321 / ompio" % len(next(iter(runs.values()))))
for op, ranks in sorted({(k[0], k[1]) for k in runs}):
    o, r = (statistics.median(runs[(op, ranks, io)]) for io in ("ompio", "romio321"))
    print("  %-14s %d rank(s)  ompio %6.2f GB/s  romio321 %6.2f GB/s  ratio %.2f"
          % (op, ranks, size[(op, ranks, "ompio")] / o / 1e9, size[(op, ranks, "romio321")] / r / 1e9, o / r))
PY
