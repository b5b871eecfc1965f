#!/usr/bin/env bash
# HDF5 throughput of spartanxx against h5py (Debian's python3-h5py, serial, on NumPy and
# SciPy) and dd on the same files, in the same run: a dense float64 array (default
# 4 GiB) and a CSR matrix (default 40 M stored entries), written (with fsync) and read
# back with the page cache dropped before every read (needs root; otherwise reads come
# from the cache and the script says so). Medians of REPS runs, at 1 and 2 ranks.
#
#   bash scripts/bench_io.sh [DIR] [REPS] [ROWS COLS] [SPARSE_ROWS SPARSE_COLS PER_ROW]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-/tmp/spartanxx-bench-io}
reps=${2:-3}
rows=${3:-65536} cols=${4:-8192}                 # 65536 x 8192 x 8 B = 4 GiB
srows=${5:-2000000} scols=${6:-1000000} per=${7:-20}  # 40 M entries
exe=$here/build/bin/spartanxx-bench-io
py=${PYTHON:-/usr/bin/python3}  # Debian's, with its h5py, NumPy and SciPy
[ -x "$exe" ] || { echo "build first: cmake --build build --target spartanxx_bench_io"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$dir"
out=$dir/results.jsonl
: >"$out"
drop() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; else echo "warning: cannot drop the page cache" >&2; fi
}
note() { echo "$1" >>"$out"; echo "$1"; }
py_dense() {  # py_dense write|read FILE
  "$py" - "$@" "$rows" "$cols" <<'PY'
import json, os, sys, time
import h5py, numpy as np
mode, path, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "write":
    a = np.arange(rows * cols, dtype=np.float64).reshape(rows, cols)
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=a)
    fd = os.open(path, os.O_RDONLY); os.fsync(fd); os.close(fd)
    t = time.perf_counter() - t0
else:
    # read_direct into an allocated array: h5py's fastest read (f["x"][...] is several
    # times slower here, its fresh pages faulted in after the read).
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        d = f["x"]
        a = np.empty(d.shape, d.dtype)
        d.read_direct(a)
    t = time.perf_counter() - t0
    assert a[-1, -1] == rows * cols - 1
print(json.dumps({"op": "h5py-dense-" + mode, "ranks": 1, "seconds": t, "bytes": rows * cols * 8}))
PY
}
py_sparse_read() {
  "$py" - "$1" <<'PY'
import json, sys, time
import h5py, scipy.sparse as sp
t0 = time.perf_counter()
with h5py.File(sys.argv[1], "r") as f:
    g = f["m"]
    m = sp.csr_matrix((g["data"][...], g["indices"][...], g["indptr"][...]), shape=tuple(g.attrs["shape"]))
t = time.perf_counter() - t0
print(json.dumps({"op": "h5py-scipy-sparse-read", "ranks": 1, "seconds": t, "bytes": m.nnz * 16 + (m.shape[0] + 1) * 8}))
PY
}
for ((r = 1; r <= reps; ++r)); do
  for np in 1 2; do
    rm -f "$dir/sx.h5"
    note "$(mpirun -np $np "$exe" dense-write "$dir/sx.h5" "$rows" "$cols")"
    drop
    note "$(mpirun -np $np "$exe" dense-read "$dir/sx.h5")"
  done
  drop
  t=$( { TIMEFORMAT=%R; time dd if="$dir/sx.h5" of=/dev/null bs=64M 2>/dev/null; } 2>&1 | tail -1)
  note "{\"op\": \"dd-read\", \"ranks\": 1, \"seconds\": $t, \"bytes\": $(stat -c %s "$dir/sx.h5")}"
  rm -f "$dir/dd.bin"
  t=$( { TIMEFORMAT=%R; time dd if=/dev/zero of="$dir/dd.bin" bs=64M count=$((rows * cols * 8 / 67108864)) conv=fsync 2>/dev/null; } 2>&1 | tail -1)
  note "{\"op\": \"dd-write\", \"ranks\": 1, \"seconds\": $t, \"bytes\": $((rows * cols * 8 / 67108864 * 67108864))}"
  rm -f "$dir/dd.bin" "$dir/py.h5"
  note "$(py_dense write "$dir/py.h5")"
  drop
  note "$(py_dense read "$dir/py.h5")"
  rm -f "$dir/py.h5"
  for np in 1 2; do
    rm -f "$dir/sp.h5"
    note "$(mpirun -np $np "$exe" sparse-write "$dir/sp.h5" "$srows" "$scols" "$per")"
    drop
    note "$(mpirun -np $np "$exe" sparse-read "$dir/sp.h5")"
  done
  drop
  note "$(py_sparse_read "$dir/sp.h5")"
done
python3 - "$out" <<'PY'
import collections, json, statistics, sys
runs = collections.defaultdict(list)
size = {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    runs[(m["op"], m["ranks"])].append(m["seconds"])
    size[(m["op"], m["ranks"])] = m["bytes"]
med = {k: statistics.median(v) for k, v in runs.items()}
gbs = {k: size[k] / med[k] / 1e9 for k in med}
print("\nmedians (GB/s of the array's bytes), %d runs each" % len(next(iter(runs.values()))))
for k in sorted(med):
    print("  %-24s %d rank(s)  %8.3f s  %6.2f GB/s" % (k[0], k[1], med[k], gbs[k]))
for np in (1, 2):
    print("ratios at %d rank(s):" % np)
    print("  dense read  / dd read        %.2f" % (gbs[("dense-read", np)] / gbs[("dd-read", 1)]))
    print("  dense read  / h5py read      %.2f" % (gbs[("dense-read", np)] / gbs[("h5py-dense-read", 1)]))
    print("  dense write / dd write       %.2f" % (gbs[("dense-write", np)] / gbs[("dd-write", 1)]))
    print("  dense write / h5py write     %.2f" % (gbs[("dense-write", np)] / gbs[("h5py-dense-write", 1)]))
    print("  sparse read / h5py+scipy     %.2f" % (gbs[("sparse-read", np)] / gbs[("h5py-scipy-sparse-read", 1)]))
PY
