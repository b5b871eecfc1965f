#!/usr/bin/env bash
# End-to-end checks of spartanxx-tfidf-lr under mpirun:
#  - the SpamAssassin job (2 ranks, 75/25 split) reaches test accuracy >= 0.97, and its
#    metrics JSON agrees with itself at 3 ranks (the split does not depend on ranks);
#  - predictions are written as id<TAB>prediction<TAB>probability, one per document;
#  - bad input (missing file, a label outside {0, 1}, an empty training set) ends the
#    job with exit status 1 and the same message on every rank, without hanging and
#    without leaving an output file behind.
# Usage: tfidf_lr_job.sh PATH/TO/spartanxx-tfidf-lr PATH/TO/spamassassin.tsv.gz
set -uo pipefail
exe=$1
corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
run() {  # run NP ARGS...: the job under mpirun with a time limit; output in $work/out
  local np=$1
  shift
  timeout 600 mpirun --oversubscribe -np "$np" "$exe" "$@" >"$work/out" 2>&1
}
json() {  # json FILE EXPR: a value of the metrics JSON
  python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"
}

[ -s "$corpus" ] || { echo "FAIL: $corpus is missing (scripts/fetch_spamassassin.sh makes it)"; exit 1; }

# 1. The SpamAssassin job.
if run 2 --train "$corpus" --test-fraction 0.25 --metrics-json "$work/m2.json"; then
  cat "$work/out"
  acc=$(json "$work/m2.json" 'm["test"]["accuracy"]')
  n=$(json "$work/m2.json" 'm["split"]["train"] + m["split"]["test"]')
  echo "test accuracy at 2 ranks: $acc over $n documents"
  python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 0.97 else 1)" "$acc" || fail "test accuracy $acc < 0.97"
  [ "$n" = 6046 ] || fail "expected 6046 documents, read $n"
else
  cat "$work/out"; fail "the SpamAssassin job failed"
fi
if run 3 --train "$corpus" --test-fraction 0.25 --metrics-json "$work/m3.json" --iterations 20; then
  run 1 --train "$corpus" --test-fraction 0.25 --metrics-json "$work/m1.json" --iterations 20 || fail "1-rank run failed"
  for key in 'm["split"]["train"]' 'm["features"]["train_nnz"]' 'round(m["model"]["final_loss"], 9)' 'round(m["test"]["auc"], 9)'; do
    a=$(json "$work/m1.json" "$key"); b=$(json "$work/m3.json" "$key")
    [ "$a" = "$b" ] || fail "$key differs between 1 and 3 ranks: $a vs $b"
  done
else
  cat "$work/out"; fail "the 3-rank run failed"
fi

# 2. Predictions for an unlabeled file with ids (and a blank line, which is no document).
printf 'a17,free money click here now\n\nb2,meeting notes for monday\nc3,\n' >"$work/unlabeled.txt"
if run 3 --train "$corpus" --iterations 10 --predict "$work/unlabeled.txt" --predict-ids --predictions "$work/pred.tsv"; then
  lines=$(wc -l <"$work/pred.tsv")
  [ "$lines" = 3 ] || fail "expected 3 predictions, got $lines"
  python3 - "$work/pred.tsv" <<'PY' || fail "bad predictions file"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert [r[0] for r in rows] == ["a17", "b2", "c3"], rows
for r in rows:
    p = float(r[2])
    assert len(r) == 3 and 0.0 <= p <= 1.0 and r[1] == ("1" if p > 0.5 else "0"), r
PY
else
  cat "$work/out"; fail "the predict run failed"
fi

# 3. Bad input: exit status 1, the message on every rank, no output file left.
expect_error() {  # expect_error NP FRAGMENT ARGS...
  local np=$1 fragment=$2
  shift 2
  rm -f "$work/bad.json"
  run "$np" "$@" --metrics-json "$work/bad.json"
  local rc=$?
  [ "$rc" = 1 ] || { cat "$work/out"; fail "expected exit status 1 at $np ranks, got $rc ($fragment)"; return; }
  for ((r = 0; r < np; ++r)); do
    grep -q "\[rank $r\] spartanxx-tfidf-lr: .*$fragment" "$work/out" || { cat "$work/out"; fail "rank $r did not report '$fragment'"; }
  done
  [ ! -e "$work/bad.json" ] || fail "an output file was left behind ($fragment)"
}
printf '1\tgood text\n0\tother text\n2\tbad label\n' >"$work/labels.tsv"
: >"$work/empty.tsv"
for np in 1 2 3; do
  expect_error "$np" "absent.tsv" --train "$work/absent.tsv"
  expect_error "$np" "labels.tsv line 3: label 2 is not 0 or 1" --train "$work/labels.tsv"
  expect_error "$np" "training set is empty" --train "$work/empty.tsv"
  expect_error "$np" "absent-neg.txt" --positive "$work/labels.tsv" --negative "$work/absent-neg.txt"
done

if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all tfidf-lr job checks passed"
