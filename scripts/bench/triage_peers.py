#!/usr/bin/env python3
"""Peers for scripts/bench-triage.sh: scikit-learn and fastText on the same split.

Usage: triage_peers.py TRAIN.jsonl TEST.jsonl

Each peer starts from raw messages, as mailtriage does: Python's `email` module (compat32,
the fastest path) extracts subject and text, which the peer vectorises and classifies. Train
and predict are timed separately, parsing included, on one core. Prints one JSON line per
peer with accuracy, macro_f1, spam_precision, spam_recall, train_per_s, predict_per_s,
peak_rss_bytes (of this process so far).
"""
import base64
import email
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np

# The same text decoding as the parse benchmark's fast path (this script's folder is on sys.path).
from python_email_parse import text_parts


def load(path):
    raws, labels = [], []
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            raw = r["raw"].encode("utf-8", "surrogateescape") if "raw" in r else base64.b64decode(r["raw_base64"])
            raws.append(raw)
            labels.append(r["label"])
    return raws, labels


def text_of(raw):
    msg = email.message_from_bytes(raw)
    parts = [str(msg.get("Subject", "")), str(msg.get("From", ""))]
    parts.extend(text_parts(msg))
    return "\n".join(parts)


def scores(truth, predicted):
    truth = np.array(truth)
    predicted = np.array(predicted)
    acc = float((truth == predicted).mean())
    f1s = []
    out = {}
    for label in ("ham", "spam"):
        tp = int(((predicted == label) & (truth == label)).sum())
        fp = int(((predicted == label) & (truth != label)).sum())
        fn = int(((predicted != label) & (truth == label)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        if label == "spam":
            out["spam_precision"], out["spam_recall"] = p, r
    out["accuracy"] = acc
    out["macro_f1"] = float(np.mean(f1s))
    return out


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_sklearn(name, make, train, test):
    (train_raw, train_y), (test_raw, test_y) = train, test
    t = time.perf_counter()
    model = make()
    model.fit([text_of(r) for r in train_raw], train_y)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    predicted = model.predict([text_of(r) for r in test_raw])
    predict_s = time.perf_counter() - t
    return dict(name=name, train_per_s=len(train_raw) / train_s, predict_per_s=len(test_raw) / predict_s,
                peak_rss_bytes=peak_rss(), **scores(test_y, list(predicted)))


def run_fasttext(train, test):
    import fasttext

    (train_raw, train_y), (test_raw, test_y) = train, test
    clean = lambda s: " ".join(s.split())  # fastText reads one example per line
    t = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for raw, y in zip(train_raw, train_y):
            f.write(f"__label__{y} {clean(text_of(raw))}\n")
        path = f.name
    model = fasttext.train_supervised(path, epoch=25, lr=0.5, wordNgrams=2, dim=50, thread=1, verbose=0, seed=1)
    train_s = time.perf_counter() - t
    os.unlink(path)
    t = time.perf_counter()
    predicted = [model.predict(clean(text_of(raw)))[0][0].replace("__label__", "") for raw in test_raw]
    predict_s = time.perf_counter() - t
    return dict(name="fastText (bigrams, 25 epochs)", train_per_s=len(train_raw) / train_s,
                predict_per_s=len(test_raw) / predict_s, peak_rss_bytes=peak_rss(), **scores(test_y, predicted))


def main():
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    train, test = load(sys.argv[1]), load(sys.argv[2])
    peers = [
        ("scikit-learn HashingVectorizer + LogisticRegression",
         lambda: make_pipeline(HashingVectorizer(n_features=2**20, ngram_range=(1, 2), alternate_sign=False),
                               LogisticRegression(max_iter=1000, C=10))),
        ("scikit-learn TF-IDF + LinearSVC (balanced)",
         lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                               LinearSVC(class_weight="balanced"))),
    ]
    for name, make in peers:
        print(json.dumps(run_sklearn(name, make, train, test)), flush=True)
    try:
        print(json.dumps(run_fasttext(train, test)), flush=True)
    except Exception as e:  # report, do not hide: the script prints what failed
        print(json.dumps({"name": "fastText", "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
