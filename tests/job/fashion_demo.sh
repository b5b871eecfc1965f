#!/usr/bin/env bash
# End-to-end checks of spartanxx-demo (nearest-centroid Fashion-MNIST) under mpirun:
#  - at 1, 2 and 3 ranks its raw-pixel accuracy equals NumPy's nearest centroid on the
#    same files (computed here), to the 4 decimals it prints;
#  - gzip files made of several members (as `cat a.gz b.gz` makes) are read as one stream;
#  - a file truncated inside its data or inside its gzip trailer, a file with bytes after
#    its gzip stream, corrupt data and more data than the idx header declares each end
#    the run with exit status 1 and the same message naming the file from every rank,
#    without hanging.
# Usage: fashion_demo.sh PATH/TO/spartanxx-demo DATA_DIR
set -uo pipefail
exe=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
for f in $files; do [ -s "$data/$f" ] || { echo "FAIL: $data/$f is missing (scripts/setup.sh installs dataset-fashion-mnist)"; exit 1; }; done
run() {  # run NP DIR: the demo with a time limit; output in $work/out
  timeout 300 mpirun --oversubscribe -np "$1" "$exe" --data-dir "$2" >"$work/out" 2>&1
}

# Debian's interpreter has python3-numpy; another python3 earlier on PATH may not.
python=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then python=$p; break; fi
done
[ -n "$python" ] || { echo "FAIL: no python3 with NumPy (scripts/setup.sh installs python3-numpy)"; exit 1; }

# NumPy's nearest centroid on raw pixels (x / 255), the demo's second variant.
want=$("$python" - "$data" <<'PY'
import gzip, sys
import numpy as np
d = sys.argv[1]
def idx(name, offset):
    with gzip.open(f"{d}/{name}", "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
X = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
y = idx("train-labels-idx1-ubyte.gz", 8)
Xt = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
yt = idx("t10k-labels-idx1-ubyte.gz", 8)
C = np.stack([X[y == k].mean(axis=0) for k in range(10)])
pred = np.argmax(Xt @ C.T - 0.5 * (C * C).sum(axis=1), axis=1)
print(f"{(pred == yt).mean():.4f}")
PY
)
echo "NumPy nearest centroid, raw pixels: $want"
accuracy() { sed -n 's/.*nearest centroid on raw pixels: \([0-9.]*\).*/\1/p' "$work/out"; }

for np in 1 2 3; do
  if run $np "$data"; then
    got=$(accuracy)
    [ "$got" = "$want" ] || fail "at $np ranks the raw-pixel accuracy is '$got', NumPy's $want"
  else
    cat "$work/out"; fail "the demo failed at $np ranks"
  fi
done

# A copy of the data in which one file is replaced: mk NAME; then write $work/d/NAME.
mk() { rm -rf "$work/d"; mkdir "$work/d"; for f in $files; do ln -s "$data/$f" "$work/d/$f"; done; rm "$work/d/$1"; }
raw() { gzip -dc "$data/$1"; }
expect_error() {  # expect_error WHAT FRAGMENT...: the demo at 3 ranks on $work/d fails so
  local what=$1; shift
  run 3 "$work/d"; local rc=$?
  [ $rc -eq 1 ] || { cat "$work/out"; fail "$what: exit status $rc, not 1"; return; }
  for r in 0 1 2; do
    local line
    line=$(grep "^\[rank $r\] spartanxx-demo: " "$work/out")
    [ -n "$line" ] || { cat "$work/out"; fail "$what: no message from rank $r"; continue; }
    for frag in "$@"; do
      grep -qF -- "$frag" <<<"$line" || fail "$what: rank $r's message lacks '$frag': $line"
    done
  done
}

# Several gzip members, one stream: the same answer.
mk train-labels-idx1-ubyte.gz
raw train-labels-idx1-ubyte.gz | head -c 30000 | gzip -c >"$work/d/train-labels-idx1-ubyte.gz"
raw train-labels-idx1-ubyte.gz | tail -c +30001 | gzip -c >>"$work/d/train-labels-idx1-ubyte.gz"
if run 3 "$work/d"; then [ "$(accuracy)" = "$want" ] || fail "two-member labels file: accuracy $(accuracy), not $want"
else cat "$work/out"; fail "a labels file of two gzip members was refused"; fi

size() { stat -c %s "$data/$1"; }
# Truncated in its trailer (all data there, the CRC-32 and length missing).
mk train-labels-idx1-ubyte.gz
head -c $(( $(size train-labels-idx1-ubyte.gz) - 4 )) "$data/train-labels-idx1-ubyte.gz" >"$work/d/train-labels-idx1-ubyte.gz"
expect_error "labels without their trailer" "train-labels-idx1-ubyte.gz" "truncated"
mk train-images-idx3-ubyte.gz
head -c $(( $(size train-images-idx3-ubyte.gz) - 6 )) "$data/train-images-idx3-ubyte.gz" >"$work/d/train-images-idx3-ubyte.gz"
expect_error "images without their trailer" "train-images-idx3-ubyte.gz" "truncated"
# Truncated in the middle of the data.
mk t10k-images-idx3-ubyte.gz
head -c $(( $(size t10k-images-idx3-ubyte.gz) / 2 )) "$data/t10k-images-idx3-ubyte.gz" >"$work/d/t10k-images-idx3-ubyte.gz"
expect_error "images cut in half" "t10k-images-idx3-ubyte.gz" "truncated"
# Bytes after the gzip stream.
mk train-images-idx3-ubyte.gz
{ cat "$data/train-images-idx3-ubyte.gz"; printf 'garbage'; } >"$work/d/train-images-idx3-ubyte.gz"
expect_error "images with trailing garbage" "train-images-idx3-ubyte.gz" "bytes after the end of the gzip stream, at byte $(size train-images-idx3-ubyte.gz)"
# More data than the header declares (a second member with 5 more labels).
mk t10k-labels-idx1-ubyte.gz
{ cat "$data/t10k-labels-idx1-ubyte.gz"; printf '\1\2\3\4\5' | gzip -c; } >"$work/d/t10k-labels-idx1-ubyte.gz"
expect_error "labels with more data than declared" "t10k-labels-idx1-ubyte.gz" "more data after the labels"
# Corrupt compressed data (a byte in the middle changed).
mk train-labels-idx1-ubyte.gz
"$python" - "$data/train-labels-idx1-ubyte.gz" "$work/d/train-labels-idx1-ubyte.gz" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0xff
open(sys.argv[2], "wb").write(b)
PY
expect_error "corrupt labels" "train-labels-idx1-ubyte.gz"

if [ $failures -eq 0 ]; then echo "fashion_demo: all checks passed"; exit 0; fi
echo "fashion_demo: $failures failures"
exit 1
