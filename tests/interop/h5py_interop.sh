#!/usr/bin/env bash
# HDF5 interchange with the real tools (CTest test h5py_interop):
#  1. h5py writes every dtype and storage layout and SciPy CSR/CSC groups; spartanxx
#     reads them at 1-4 ranks and compares with NumPy's raw bytes.
#  2. spartanxx writes formula arrays at 1-4 ranks; h5py reads each file and compares
#     with the formulas computed in NumPy/SciPy; the file written at 3 ranks is read
#     back by spartanxx at 2 and 4.
#  3. scripts/fashion_mnist_to_hdf5.py converts Debian's Fashion-MNIST with h5py
#     (chunked, gzip, shuffle); spartanxx reads it at 1-4 ranks and compares with the
#     idx files.
#  4. Both MPI-IO components of Open MPI (ompio, romio321) pass 1 and 2 at 2 and 3 ranks.
# Usage: h5py_interop.sh TOOL MPIEXEC SOURCE_DIR WORK_DIR
set -euo pipefail
tool=$1 mpiexec=$2 src=$3 work=$4
rm -rf "$work" && mkdir -p "$work"

# Debian's interpreter has python3-h5py; another python3 earlier on PATH may not.
python=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import h5py, numpy, scipy.sparse' 2>/dev/null; then python=$p; break; fi
done
if [ -z "$python" ]; then
  echo "no python3 with h5py, NumPy and SciPy (scripts/setup.sh installs python3-h5py python3-scipy)" >&2
  exit 1
fi
"$python" -c 'import h5py; print("h5py", h5py.version.version, "HDF5", h5py.version.hdf5_version)'

run() {  # run NP [env...] -- args
  local np=$1; shift
  "$mpiexec" --oversubscribe -np "$np" "$@"
}

"$python" "$src/tests/interop/h5py_interop.py" make "$work"
for np in 1 2 3 4; do run $np "$tool" read "$work"; done

for np in 1 2 3 4; do
  run $np "$tool" write "$work/spartanxx_$np.h5"
  "$python" "$src/tests/interop/h5py_interop.py" check "$work/spartanxx_$np.h5"
done
for np in 2 4; do run $np "$tool" verify "$work/spartanxx_3.h5"; done

"$python" "$src/scripts/fashion_mnist_to_hdf5.py" "$work/fashion.h5"
for np in 1 2 3 4; do run $np "$tool" fashion "$work/fashion.h5" /usr/share/datasets/fashion-mnist; done

for io in ompio romio321; do
  echo "== MPI-IO component $io"
  for np in 2 3; do
    run $np --mca io $io "$tool" read "$work"
    run $np --mca io $io "$tool" write "$work/${io}_$np.h5"
    "$python" "$src/tests/interop/h5py_interop.py" check "$work/${io}_$np.h5"
  done
done
echo "h5py interchange: all passed"
