#!/usr/bin/env python3
"""scikit-learn's TF-IDF + logistic regression on the split spartanxx-tfidf-lr uses.

The baseline of spartanxx-bench's ml area (scripts/bench_ml.sh runs both):
HashingVectorizer(n_features, alternate_sign=False, norm=None) + TfidfTransformer +
SGDClassifier(loss="log_loss"), one core. The corpus is label<TAB>text per line; blank
lines are skipped, and document k (counting from 0) is in the training share when
spartanxx::ml::in_training_split(seed, k, 1 - test_fraction) says so (the same
splitmix64 hash, written out below).

Prints one JSON object: featurization seconds (read, hash, IDF fit and transform of both
shares) per repetition, the seconds of one SGDClassifier epoch per repetition, and test
accuracy and ROC AUC of SGDClassifier(loss="log_loss") trained to its defaults.
Usage: bench_sklearn.py CORPUS [--reps N] [--features N] [--seed S] [--test-fraction F]
"""
import argparse
import json
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

MASK = (1 << 64) - 1


def in_training_split(seed: int, index: int, train_fraction: float) -> bool:
    z = (seed * 0x9E3779B97F4A7C15 + index + 0x632BE59BD9B4E019) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return (z >> 11) * 2.0**-53 < train_fraction


def featurize(path, features, seed, train_fraction):
    train, test, ytrain, ytest = [], [], [], []
    nbytes = 0
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        k = 0
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            label, _, text = line.partition("\t")
            nbytes += len(line.encode("utf-8"))
            if in_training_split(seed, k, train_fraction):
                train.append(text)
                ytrain.append(float(label))
            else:
                test.append(text)
                ytest.append(float(label))
            k += 1
    hv = HashingVectorizer(n_features=features, alternate_sign=False, norm=None)
    Xtrain = hv.transform(train)
    Xtest = hv.transform(test)
    tfidf = TfidfTransformer().fit(Xtrain)
    return tfidf.transform(Xtrain), tfidf.transform(Xtest), np.array(ytrain), np.array(ytest), nbytes


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--features", type=int, default=2**18)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--test-fraction", type=float, default=0.25)
    a = ap.parse_args()
    train_fraction = 1.0 - a.test_fraction
    feat_s = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        X, Xt, y, yt, nbytes = featurize(a.corpus, a.features, a.seed, train_fraction)
        feat_s.append(time.perf_counter() - t0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    epoch_s = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        SGDClassifier(loss="log_loss", max_iter=1, tol=None, random_state=0).fit(X, y)
        epoch_s.append(time.perf_counter() - t0)
    clf = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    out = {
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
        "corpus": a.corpus,
        "bytes": nbytes,
        "train": int(X.shape[0]),
        "test": int(Xt.shape[0]),
        "nnz": int(X.nnz),
        "featurize_s": feat_s,
        "sgd_epoch_s": epoch_s,
        "epochs_to_converge": int(clf.n_iter_),
        "accuracy": float(accuracy_score(yt, clf.predict(Xt))) if len(yt) else None,
        "auc": float(roc_auc_score(yt, clf.decision_function(Xt))) if len(set(yt)) == 2 else None,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
