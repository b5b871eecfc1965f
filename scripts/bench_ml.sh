#!/usr/bin/env bash
# The ML benchmark: spartanxx-bench's ml area at 1 and 2 ranks against scikit-learn
# (scripts/bench_sklearn.py, one core) on the same corpora and the same 75/25 split:
#  - the SpamAssassin corpus (data/spamassassin.tsv, plain text),
#  - a 1 GB corpus made by repeating it (data/spamassassin-1g.tsv).
# Prints, per corpus: featurization throughput (median MB/s) and its ratio to
# scikit-learn's; one SGD iteration against the single-node Eigen implementation (the
# bench's own ratio) and against one epoch of SGDClassifier; test accuracy and AUC
# beside scikit-learn's. Raw reports go to build/bench-ml/. Environment: REPS (default 5),
# CORPORA (default "spamassassin spamassassin-1g").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
# Debian's interpreter, where python3-sklearn lands (a python3 earlier in PATH may be another).
py=python3
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; fi
if ! "$py" -c "import sklearn" 2>/dev/null; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends python3-sklearn
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target spartanxx_bench >/dev/null

[ -s data/spamassassin.tsv ] || zcat data/spamassassin.tsv.gz >data/spamassassin.tsv
if [ ! -s data/spamassassin-1g.tsv ]; then
  for _ in $(seq 31); do cat data/spamassassin.tsv; done >data/spamassassin-1g.tsv.part
  mv data/spamassassin-1g.tsv.part data/spamassassin-1g.tsv
fi

reps=${REPS:-5}
out=build/bench-ml
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export GLIBC_TUNABLES=${GLIBC_TUNABLES:-glibc.malloc.hugetlb=1}
for corpus in ${CORPORA:-spamassassin spamassassin-1g}; do
  file=data/$corpus.tsv
  "$py" scripts/bench_sklearn.py "$file" --reps "$reps" >"$out/$corpus-sklearn.json"
  for np in 1 2; do
    mpirun -np "$np" -x GLIBC_TUNABLES build/bin/spartanxx-bench --only ml --reps "$reps" --warmup 1 \
      --ml-corpus "$file" --json "$out/$corpus-np$np.json" | tee "$out/$corpus-np$np.txt" | grep '^ml:' || true
  done
  python3 - "$out" "$corpus" <<'PY'
import json, statistics, sys
out, corpus = sys.argv[1], sys.argv[2]
sk = json.load(open(f"{out}/{corpus}-sklearn.json"))
med = statistics.median
sk_feat = med(sk["featurize_s"])
sk_epoch = med(sk["sgd_epoch_s"])
print(f"\n{corpus}: {sk['bytes'] / 1e6:.1f} MB, {sk['train']} training / {sk['test']} test documents")
print(f"  scikit-learn {sk['sklearn']}: featurize {sk_feat:.3f} s ({sk['bytes'] / 1e6 / sk_feat:.1f} MB/s), "
      f"one SGD epoch {sk_epoch:.3f} s, accuracy {sk['accuracy']:.4f}, AUC {sk['auc']:.4f}")
for np_ in (1, 2):
    rep = json.load(open(f"{out}/{corpus}-np{np_}.json"))
    res = {r["name"]: r for r in rep["benchmarks"]}
    f, s = res["featurize"], res["sgd iteration"]
    ft = f["spartanxx_median_seconds"]
    iters = s["sizes"]["iterations"]
    it = s["spartanxx_median_seconds"] / iters
    eig = (s["baseline_median_seconds"] or float("nan")) / iters
    line = [l for l in open(f"{out}/{corpus}-np{np_}.txt") if l.startswith("ml:")]
    print(f"  spartanxx {np_} rank(s): featurize {ft:.3f} s ({f['work_per_repetition'] / 1e6 / ft:.1f} MB/s, "
          f"{sk_feat / ft:.2f}x scikit-learn); SGD iteration {it * 1e3:.2f} ms "
          f"(Eigen {eig * 1e3:.2f} ms: {eig / it:.2f}x; SGDClassifier epoch: {sk_epoch / it:.1f}x)")
    if line:
        print("   ", line[0].strip())
PY
done
