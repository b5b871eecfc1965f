#!/usr/bin/env bash
# End-to-end checks of spartanxx-tfidf-lr under mpirun:
#  - the SpamAssassin job (2 ranks, 75/25 split) reaches test accuracy >= 0.97, and its
#    metrics JSON agrees with itself at 3 ranks (the split does not depend on ranks);
#  - predictions are written as id<TAB>prediction<TAB>probability, one per document;
#  - bad input (missing file, a label outside {0, 1}, an empty training set, a truncated
#    or padded gzip corpus, a --predict-ids line without an id, an output that cannot be
#    written, a model too big for --max-memory) ends the job with exit status 1 and one
#    message from rank 0, without hanging and without leaving an output file behind;
#  - a model saved at 2 ranks and loaded at 2 and 3 gives the same predictions;
#  - a run killed (SIGKILL of one rank) after some checkpoints, and during the write of
#    one, finishes with --resume exactly as the uninterrupted run did;
#  - SIGTERM to mpirun and SIGINT to the ranks: one line from rank 0 with the iteration
#    and the checkpoint's, no temporary file, and --resume finishes the run.
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

# 3. Bad input: exit status 1, the message said once (by rank 0), in one sentence with
#    no doubled prefixes, and no output file left.
expect_error() {  # expect_error NP FRAGMENT ARGS...
  local np=$1 fragment=$2
  shift 2
  rm -f "$work/bad.json"
  run "$np" "$@" --metrics-json "$work/bad.json"
  local rc=$?
  [ "$rc" = 1 ] || { cat "$work/out"; fail "expected exit status 1 at $np ranks, got $rc ($fragment)"; return; }
  local said
  said=$(grep -c "^spartanxx-tfidf-lr: .*$fragment" "$work/out")
  [ "$said" = 1 ] || { cat "$work/out"; fail "'$fragment' said $said times at $np ranks, not once"; }
  if grep -q "spartanxx-tfidf-lr: .*spartanxx-tfidf-lr:\|\[rank [0-9]*\] .*\[rank [0-9]*\]" "$work/out"; then
    cat "$work/out"; fail "a doubled prefix ($fragment)"
  fi
  [ ! -e "$work/bad.json" ] || fail "an output file was left behind ($fragment)"
}
printf '1\tgood text\n0\tother text\n2\tbad label\n' >"$work/labels.tsv"
: >"$work/empty.tsv"
head -c "$(($(stat -c %s "$corpus") / 2))" "$corpus" >"$work/truncated.tsv.gz"
{ cat "$corpus"; printf 'garbage'; } >"$work/trailing.tsv.gz"
printf 'a1,first\nno comma here\n' >"$work/noids.txt"
printf '1\tbuy now\n1\tcheap pills\n1\tfree money\n' >"$work/one_class.tsv"
printf '1\tfree money now\n0\tmeeting on monday\n1\tcheap pills\n0\tproject notes\n1\tbuy now\n0\tlunch\n' >"$work/small.tsv"
for np in 1 2 3; do
  expect_error "$np" "absent.tsv" --train "$work/absent.tsv"
  expect_error "$np" "labels.tsv line 3: label 2 is not 0 or 1" --train "$work/labels.tsv"
  expect_error "$np" "training set is empty" --train "$work/empty.tsv"
  expect_error "$np" "absent-neg.txt" --positive "$work/labels.tsv" --negative "$work/absent-neg.txt"
  expect_error "$np" "truncated: the gzip stream ends before its trailer" --train "$work/truncated.tsv.gz"
  expect_error "$np" "trailing bytes after the end of the gzip stream" --train "$work/trailing.tsv.gz"
  expect_error "$np" "noids.txt line 2: no id" --train "$work/small.tsv" --test-fraction 0 --predict "$work/noids.txt" --predict-ids \
      --predictions "$work/bad.tsv"
  [ ! -e "$work/bad.tsv" ] || fail "a predictions file was left behind at $np ranks"
  expect_error "$np" "all 3 training labels are 1: a classifier needs both classes" --train "$work/one_class.tsv" \
      --test-fraction 0
done
run 2 --train "$work/one_class.tsv" --test-fraction 0 --allow-single-class || { cat "$work/out"; fail "--allow-single-class failed"; }
# Outputs that cannot be written fail before the corpus is read (seconds, not minutes).
for np in 1 3; do
  expect_error "$np" "the directory $work/nodir does not exist" --train "$corpus" --predict "$work/unlabeled.txt" \
      --predictions "$work/nodir/p.tsv"
  expect_error "$np" "--predictions $work: is a directory" --train "$corpus" --predict "$work/unlabeled.txt" \
      --predictions "$work"
  expect_error "$np" "--save-model /proc/spartanxx.h5: cannot write in /proc" --train "$corpus" --save-model /proc/spartanxx.h5
  expect_error "$np" "--predict $work/absent-predict.txt: cannot read it" --train "$corpus" --predict "$work/absent-predict.txt"
  expect_error "$np" "--num-features 2147483647 needs about .* but a rank may use 1.07 GB" --train "$corpus" \
      --num-features 2147483647 --max-memory 1G
  # L-BFGS at 2^22 features: measured near 1.1 GB per rank (33 vectors), refused under 1 GiB
  # (the estimate of 28 vectors, 0.94 GB, let it start).
  expect_error "$np" "--num-features 4194304 needs about 1.21 GB per rank .*36 vectors of 4194304" --train "$corpus" \
      --algorithm lbfgs --num-features 4194304 --max-memory 1G
done
# A truncated corpus leaves an earlier predictions file as it was.
cp "$work/pred.tsv" "$work/kept.tsv"
expect_error 2 "truncated" --train "$work/truncated.tsv.gz" --predict "$work/unlabeled.txt" --predict-ids \
    --predictions "$work/kept.tsv"
cmp -s "$work/pred.tsv" "$work/kept.tsv" || fail "the predictions file was changed by a failed run"
# Bad values on the command line: CLI11's message, from rank 0 alone, names the option.
for bad in "--num-features 0" "--num-features 2147483648" "--max-memory 12Q" "--test-fraction 1.5"; do
  # shellcheck disable=SC2086
  run 3 --train "$corpus" $bad
  rc=$?
  [ "$rc" -ne 0 ] || fail "'$bad' was accepted"
  n=$(grep -c "^${bad%% *}: ${bad#* } is not" "$work/out")
  [ "$n" = 1 ] || { cat "$work/out"; fail "'$bad': its message was said $n times, not once"; }
done

# 4. A saved model: trained and saved at 2 ranks, loaded at 2 and 3 ranks without training.
if run 2 --train "$corpus" --iterations 30 --save-model "$work/model.h5" --metrics-json "$work/trained.json" \
       --predict "$work/unlabeled.txt" --predict-ids --predictions "$work/pred_trained.tsv"; then
  run 2 --model "$work/model.h5" --train "$corpus" --metrics-json "$work/loaded2.json" || { cat "$work/out"; fail "--model at 2 ranks failed"; }
  run 3 --model "$work/model.h5" --train "$corpus" --metrics-json "$work/loaded3.json" \
      --predict "$work/unlabeled.txt" --predict-ids --predictions "$work/pred_loaded.tsv" || { cat "$work/out"; fail "--model at 3 ranks failed"; }
  # The same rank count: every metric bit for bit; at 3 ranks the sums over documents
  # may differ in their last bits, the ranking (AUC) and the predictions not.
  for key in 'm["test"]["log_loss"]' 'm["test"]["auc"]' 'm["test"]["f1"]'; do
    a=$(json "$work/trained.json" "$key"); b=$(json "$work/loaded2.json" "$key")
    [ "$a" = "$b" ] || fail "$key of the loaded model differs at 2 ranks: $a vs $b"
  done
  a=$(json "$work/trained.json" 'm["test"]["auc"]'); b=$(json "$work/loaded3.json" 'm["test"]["auc"]')
  [ "$a" = "$b" ] || fail "AUC of the loaded model at 3 ranks: $a vs $b"
  cmp -s "$work/pred_trained.tsv" "$work/pred_loaded.tsv" || fail "predictions of the loaded model differ"
else
  cat "$work/out"; fail "training with --save-model failed"
fi
printf 'not a model\n' >"$work/fake.h5"
expect_error 2 "fake.h5" --model "$work/fake.h5" --predict "$work/unlabeled.txt"

# 5. Kill and resume. The uninterrupted run, then the same run with checkpoints whose
#    ranks are killed (SIGKILL to one rank) first after some checkpoints, then while a
#    checkpoint is being written; --resume must finish with the uninterrupted model.
args=(--train "$corpus" --iterations 150 --convergence-tol 0)
run 2 "${args[@]}" --metrics-json "$work/whole.json" || { cat "$work/out"; fail "the uninterrupted run failed"; }
ckpt="$work/run.ckpt"
after_checkpoints() { [ -e "$ckpt.prev" ]; }
writing_checkpoint() {  # a temporary checkpoint file exists (bash builtins only: no fork)
  local f
  for f in "$ckpt".tmp-*; do [ -e "$f" ] && return 0; done
  return 1
}
kill_one_rank() {  # kill_one_rank CONDITION: start the run, SIGKILL one rank as soon as CONDITION holds
  local cond=$1 victim="" job
  timeout 300 mpirun -np 2 "$exe" "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 5 --resume >"$work/killed.out" 2>&1 &
  job=$!
  # A rank of this job: a child of its mpirun (itself a child of timeout).
  until [ -n "$victim" ] || ! kill -0 "$job" 2>/dev/null; do
    victim=$(pgrep -P "$(pgrep -P "$job" -x mpirun | head -1)" -x spartanxx-tfidf 2>/dev/null | head -1)
  done
  until "$cond"; do kill -0 "$job" 2>/dev/null || break; done
  kill -KILL "$victim" 2>/dev/null
  wait "$job" 2>/dev/null
  left=$(ls "$work" | grep -c 'run.ckpt.tmp-')
  echo "killed rank process $victim ($cond); $left temporary checkpoint file(s) left"
}
kill_one_rank after_checkpoints
[ -e "$ckpt" ] || fail "no checkpoint after the first kill"
# Killed while writing: a temporary file is left, the checkpoint at $ckpt is the last
# complete one (a few tries: the write takes milliseconds).
for try in 1 2 3 4 5; do
  kill_one_rank writing_checkpoint
  [ "$left" -gt 0 ] && break
done
[ "$left" -gt 0 ] || fail "no kill landed during the write of a checkpoint in 5 tries"
if run 2 "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 5 --resume --metrics-json "$work/resumed.json"; then
  grep "resume" "$work/out"
  grep -q "resume    from .*run.ckpt" "$work/out" || fail "the resumed run did not start from a checkpoint"
  for key in 'm["model"]["final_loss"]' 'm["model"]["iterations"]' 'm["test"]["log_loss"]' 'm["train"]["log_loss"]'; do
    a=$(json "$work/whole.json" "$key"); b=$(json "$work/resumed.json" "$key")
    [ "$a" = "$b" ] || fail "$key of the resumed run: $b, uninterrupted: $a"
  done
  ! ls "$work" | grep -q "run.ckpt.tmp-" || fail "a temporary checkpoint file is left after a complete run"
else
  cat "$work/out"; fail "the resumed run failed"
fi
# Another rank count resumes the same checkpoint (the sums over rows in another order:
# equal to 1e-9).
rm -f "$ckpt" "$ckpt.prev"
kill_one_rank after_checkpoints
if run 3 "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 5 --resume --metrics-json "$work/resumed3.json"; then
  python3 - "$work/whole.json" "$work/resumed3.json" <<'PY' || fail "the run resumed at 3 ranks differs"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["model"]["iterations"] == b["model"]["iterations"]
for k in ("final_loss",):
    assert abs(a["model"][k] - b["model"][k]) <= 1e-9 * abs(a["model"][k]), (a["model"][k], b["model"][k])
assert abs(a["test"]["auc"] - b["test"]["auc"]) <= 1e-9
PY
else
  cat "$work/out"; fail "resuming at 3 ranks failed"
fi

# 6. SIGTERM to mpirun (what a scheduler sends; mpirun passes a Ctrl-C on to the ranks as
#    SIGTERM too) and SIGINT to every rank: one line from rank 0 naming the iteration and
#    the checkpoint's, every rank stopped, no temporary file; --resume then finishes as
#    the uninterrupted run did.
signalled() {  # signalled SIGNAL TARGET: TARGET is mpirun or ranks
  local sig=$1 target=$2 job
  rm -f "$ckpt" "$ckpt.prev"
  timeout 300 mpirun -np 2 "$exe" "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 5 >"$work/sig.out" 2>&1 &
  job=$!
  until after_checkpoints; do kill -0 "$job" 2>/dev/null || break; done
  if [ "$target" = mpirun ]; then
    kill -"$sig" "$(pgrep -P "$job" -x mpirun)"
  else
    pkill -"$sig" -P "$(pgrep -P "$job" -x mpirun)" -x spartanxx-tfidf
  fi
  wait "$job"
  local rc=$? want=$sig
  [ "$target" = mpirun ] && want=TERM
  [ "$rc" -ne 0 ] || fail "the run signalled with $sig ($target) exited 0"
  local n
  n=$(grep -c "^spartanxx-tfidf-lr: interrupted (SIG$want) at iteration [0-9]*; checkpoint $ckpt is from iteration [0-9]*$" "$work/sig.out")
  [ "$n" = 1 ] || { cat "$work/sig.out"; fail "SIG$sig to $target: $n interruption lines, not 1"; }
  local at from
  at=$(sed -n 's/.*interrupted .* at iteration \([0-9]*\);.*/\1/p' "$work/sig.out")
  from=$(sed -n 's/.*is from iteration \([0-9]*\)$/\1/p' "$work/sig.out")
  echo "SIG$sig to $target: stopped at iteration $at, checkpoint from iteration $from"
  [ -n "$at" ] && [ -n "$from" ] && [ "$from" -le "$at" ] && [ $((from % 5)) = 0 ] || fail "iterations $at / $from"
  ! ls "$work" | grep -q "run.ckpt.tmp-" || fail "a temporary checkpoint file is left after SIG$sig"
  local waited=0
  while pgrep -x spartanxx-tfidf >/dev/null && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  ! pgrep -x spartanxx-tfidf >/dev/null || fail "ranks still running 5 s after SIG$sig"
}
signalled TERM mpirun
signalled INT ranks
if run 2 "${args[@]}" --checkpoint "$ckpt" --checkpoint-every 5 --resume --metrics-json "$work/resumed_sig.json"; then
  for key in 'm["model"]["final_loss"]' 'm["model"]["iterations"]' 'm["test"]["log_loss"]'; do
    a=$(json "$work/whole.json" "$key"); b=$(json "$work/resumed_sig.json" "$key")
    [ "$a" = "$b" ] || fail "$key after SIGINT and --resume: $b, uninterrupted: $a"
  done
else
  cat "$work/out"; fail "resuming after SIGINT failed"
fi

if [ "$failures" -gt 0 ]; then echo "$failures check(s) failed"; exit 1; fi
echo "all tfidf-lr job checks passed"
