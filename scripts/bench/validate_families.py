#!/usr/bin/env python3
"""Driver of scripts/validate-families.sh: does a second model family beat mailtriage's linear
model on validation folds carved from the TRAINING split only (the older SpamAssassin groups)?

The `test` split (newer groups) is never opened: every figure here comes from k-fold cross
validation inside `train.jsonl`, so it can be used to choose a model family or its settings
without touching the hold-out.

Folds: stratified by the `group` field (easy-ham-1, hard-ham-1, spam-1, hence by label too).
Within each group the messages are sorted by sha256 of their `id` (then the id itself), and the
message at position i goes to fold i % K. The folds depend only on the ids, not on file order,
machine or seed. For fold k, the validation set is fold k and the fit set the other K-1 folds.

Contenders on each fold (all fitted on the fit set only, measured on the validation fold):
  - mailtriage linear model, default settings (`train` then `eval --json`); `train` itself holds
    10% of what it is given out to calibrate (its default), so it fits on 90% of the fit set;
  - mailtriage with `--class-weight balanced`;
  - scikit-learn TF-IDF (1-2 grams, min_df 2, sublinear) + LinearSVC (balanced), as the bench;
  - fastText supervised (softmax over averaged word + bigram embeddings): the bench's settings
    (wordNgrams 2, dim 50, 25 epochs, lr 0.5) and variants: 50 epochs, dim 100, unigrams only,
    and subword character n-grams 3-5. Each fastText model is trained in a fresh process
    (thread 1, seed 1; see fasttext_worker).
Peers read the same text as scripts/bench/triage_peers.py (subject, From, text parts through
Python's `email` module); messages are parsed once and reused across folds.

Prints a per-fold table and mean +- sample standard deviation per contender, the paired
difference to mailtriage (default) per fold, and writes JSON (default
target/validate-families.json).
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

METRICS = ("accuracy", "macro_f1", "spam_precision", "spam_recall")
BASELINE = "mailtriage linear (default)"

FASTTEXT_VARIANTS = [
    # (name, settings); all softmax loss, thread=1 and seed=1 so that runs are reproducible.
    ("fastText bigrams d50 e25 (bench)", dict(epoch=25, lr=0.5, wordNgrams=2, dim=50)),
    ("fastText bigrams d50 e50", dict(epoch=50, lr=0.5, wordNgrams=2, dim=50)),
    ("fastText bigrams d100 e50", dict(epoch=50, lr=0.5, wordNgrams=2, dim=100)),
    ("fastText unigrams d50 e25", dict(epoch=25, lr=0.5, wordNgrams=1, dim=50)),
    ("fastText bigrams+subwords 3-5 d50 e25", dict(epoch=25, lr=0.5, wordNgrams=2, dim=50, minn=3, maxn=5)),
]


def fasttext_worker(fit_path, val_path, settings_json):
    """Trains one fastText model and prints {"seconds", "predicted"} as JSON. Each model is
    trained in a fresh process: in one long-lived process, fasttext-numpy2 0.10.4 sometimes
    fails with "Encountered NaN" on a model trained after others (seen with wordNgrams=1),
    while the same model in a fresh process trains fine."""
    import fasttext

    t = time.perf_counter()
    model = fasttext.train_supervised(fit_path, loss="softmax", thread=1, verbose=0, seed=1,
                                      **json.loads(settings_json))
    seconds = time.perf_counter() - t
    with open(val_path, encoding="utf-8") as f:
        predicted = [model.predict(line.rstrip("\n"))[0][0].replace("__label__", "") for line in f]
    print(json.dumps(dict(seconds=seconds, predicted=predicted)))


def stable_key(msg_id):
    return hashlib.sha256(msg_id.encode("utf-8")).hexdigest(), msg_id


def read_train(path):
    """The raw lines and (id, group, label) of every message in the training split."""
    if os.path.basename(path) != "train.jsonl":
        sys.exit(f"error: {path}: this study reads the training split (train.jsonl) only")
    lines, meta = [], []
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            lines.append(line)
            meta.append((r["id"], r.get("group") or r["label"], r["label"]))
    ids = [m[0] for m in meta]
    if len(set(ids)) != len(ids):
        sys.exit("error: message ids are not unique; the fold hash needs unique ids")
    return lines, meta


def assign_folds(meta, k):
    """fold[i] for every message: stratified by group, ordered by sha256(id) inside a group."""
    fold = [None] * len(meta)
    by_group = {}
    for i, (msg_id, group, _) in enumerate(meta):
        by_group.setdefault(group, []).append(i)
    for group in sorted(by_group):
        members = sorted(by_group[group], key=lambda i: stable_key(meta[i][0]))
        for pos, i in enumerate(members):
            fold[i] = pos % k
    return fold


def mailtriage_fold(binary, fit_path, val_path, workdir, extra):
    model = os.path.join(workdir, "model.mt")
    t = time.perf_counter()
    subprocess.run([binary, "train", "-i", fit_path, "--label-field", "label", "--out", model, "-q", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    train_s = time.perf_counter() - t
    out = subprocess.run([binary, "eval", "--model", model, "-i", val_path, "--label-field", "label",
                          "--json", "-q"], check=True, capture_output=True, text=True)
    head = json.loads(out.stdout)["heads"][0]
    spam = next(c for c in head["classes"] if c["label"] == "spam")
    return dict(accuracy=head["accuracy"], macro_f1=head["macro_f1"], spam_precision=spam["precision"],
                spam_recall=spam["recall"], n=head["n"], train_seconds=train_s)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--fasttext-worker":
        return fasttext_worker(*sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="the mailtriage binary")
    ap.add_argument("--train", required=True, help="the training split (train.jsonl); test is never read")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--workdir", default="/tmp/validate-families")
    ap.add_argument("--out", default="target/validate-families.json")
    ap.add_argument("--skip-fasttext", action="store_true")
    args = ap.parse_args()

    import numpy as np  # noqa: F401  (the venv's; fails early when the venv is wrong)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from triage_peers import scores, text_of

    started = time.perf_counter()
    os.makedirs(args.workdir, exist_ok=True)
    lines, meta = read_train(args.train)
    fold = assign_folds(meta, args.folds)
    labels = [m[2] for m in meta]

    # Peers' text, parsed once (the same extraction as the bench's peers).
    import base64
    t = time.perf_counter()
    texts = []
    for line in lines:
        r = json.loads(line)
        raw = r["raw"].encode("utf-8", "surrogateescape") if "raw" in r else base64.b64decode(r["raw_base64"])
        texts.append(text_of(raw))
    parse_s = time.perf_counter() - t
    clean = lambda s: " ".join(s.split())  # fastText reads one example per line
    ft_texts = [clean(s) for s in texts]

    use_fasttext = not args.skip_fasttext
    try:
        import fasttext  # noqa: F401  (trained in worker processes; checked here)
    except Exception as e:  # report, do not hide
        print(f"warning: fastText unavailable ({e!r}); skipping it", file=sys.stderr)
        use_fasttext = False

    results = {}  # name -> list of per-fold dicts
    failures = []  # contenders that failed on a fold (they are then left out of the summaries)
    fold_sizes = []
    for k in range(args.folds):
        fdir = os.path.join(args.workdir, f"fold{k}")
        os.makedirs(fdir, exist_ok=True)
        fit_idx = [i for i in range(len(lines)) if fold[i] != k]
        val_idx = [i for i in range(len(lines)) if fold[i] == k]
        fit_path, val_path = os.path.join(fdir, "fit.jsonl"), os.path.join(fdir, "val.jsonl")
        with open(fit_path, "wb") as f:
            f.writelines(lines[i] for i in fit_idx)
        with open(val_path, "wb") as f:
            f.writelines(lines[i] for i in val_idx)
        val_y = [labels[i] for i in val_idx]
        fit_y = [labels[i] for i in fit_idx]
        fold_sizes.append(dict(fold=k, fit=len(fit_idx), validation=len(val_idx),
                               validation_spam=sum(y == "spam" for y in val_y)))
        print(f"fold {k}: fit {len(fit_idx)}, validate {len(val_idx)} ({fold_sizes[-1]['validation_spam']} spam)",
              file=sys.stderr, flush=True)

        for name, extra in ((BASELINE, []), ("mailtriage linear --class-weight balanced",
                                             ["--class-weight", "balanced"])):
            r = mailtriage_fold(args.bin, fit_path, val_path, fdir, extra)
            if r["n"] != len(val_idx):
                sys.exit(f"error: {name} evaluated {r['n']} messages, expected {len(val_idx)}")
            results.setdefault(name, []).append(dict(fold=k, **r))

        t = time.perf_counter()
        svc = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                            LinearSVC(class_weight="balanced"))
        svc.fit([texts[i] for i in fit_idx], fit_y)
        train_s = time.perf_counter() - t
        pred = list(svc.predict([texts[i] for i in val_idx]))
        results.setdefault("scikit-learn TF-IDF + LinearSVC (balanced)", []).append(
            dict(fold=k, **scores(val_y, pred), n=len(val_idx), train_seconds=train_s))

        if use_fasttext:
            ft_train = os.path.join(fdir, "fasttext-fit.txt")
            with open(ft_train, "w", encoding="utf-8") as f:
                for i in fit_idx:
                    f.write(f"__label__{labels[i]} {ft_texts[i]}\n")
            ft_val = os.path.join(fdir, "fasttext-val.txt")
            with open(ft_val, "w", encoding="utf-8") as f:
                for i in val_idx:
                    f.write(f"{ft_texts[i]}\n")
            for name, settings in FASTTEXT_VARIANTS:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--fasttext-worker", ft_train,
                                      ft_val, json.dumps(settings)], capture_output=True, text=True)
                if out.returncode != 0:  # e.g. "Encountered NaN": report it, do not hide it
                    error = (out.stderr.strip().splitlines() or ["exit code %d" % out.returncode])[-1]
                    print(f"fold {k}: {name}: {error}", file=sys.stderr, flush=True)
                    failures.append(dict(fold=k, name=name, error=error))
                    continue
                worker = json.loads(out.stdout)
                train_s, pred = worker["seconds"], worker["predicted"]
                if len(pred) != len(val_idx):
                    sys.exit(f"error: {name} predicted {len(pred)} messages, expected {len(val_idx)}")
                results.setdefault(name, []).append(dict(fold=k, **scores(val_y, pred), n=len(val_idx),
                                                         train_seconds=train_s))
        print(f"fold {k} done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    # Summaries: mean and sample standard deviation over folds; pooled (all validation messages
    # together, each predicted by the model that did not see it); paired difference to baseline.
    summary = {}
    base = {r["fold"]: r for r in results[BASELINE]}
    for name, per_fold in results.items():
        s = dict(folds=len(per_fold), complete=len(per_fold) == args.folds)
        for m in METRICS:
            vals = [r[m] for r in per_fold]
            s[m] = dict(mean=statistics.mean(vals), sd=statistics.stdev(vals) if len(vals) > 1 else 0.0,
                        per_fold=vals)
            diffs = [r[m] - base[r["fold"]][m] for r in per_fold]
            s[m]["diff_vs_baseline"] = dict(mean=statistics.mean(diffs),
                                            sd=statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                                            folds_better=sum(d > 1e-12 for d in diffs),
                                            folds_worse=sum(d < -1e-12 for d in diffs))
        s["errors_total"] = round(sum((1 - r["accuracy"]) * r["n"] for r in per_fold))
        s["train_seconds_mean"] = statistics.mean(r["train_seconds"] for r in per_fold)
        summary[name] = s

    print(f"\n{args.folds}-fold validation inside the training split only ({len(lines)} messages, older groups; "
          f"folds stratified by group, assigned by sha256(id)); test split not read.")
    print("\nper fold (accuracy / macro-F1 / spam P / spam R):")
    for name, per_fold in results.items():
        print(f"  {name}")
        for r in per_fold:
            print(f"    fold {r['fold']}: {r['accuracy']:.4f} / {r['macro_f1']:.4f} / {r['spam_precision']:.4f} / "
                  f"{r['spam_recall']:.4f}")
    print(f"\n{'contender':<45}{'accuracy':>16}{'macro-F1':>16}{'spam P':>16}{'spam R':>16}{'errors':>8}{'fit s':>7}")
    for name, s in summary.items():
        cells = "".join(f"{s[m]['mean']:>9.4f}±{s[m]['sd']:.4f}" for m in METRICS)
        note = "" if s["complete"] else f"  (only {s['folds']} of {args.folds} folds: see failures)"
        print(f"{name:<45}{cells}{s['errors_total']:>8}{s['train_seconds_mean']:>7.1f}{note}")
    print(f"\npaired difference to {BASELINE} (mean ± sd over folds; folds better/worse):")
    for name, s in summary.items():
        if name == BASELINE:
            continue
        cells = "  ".join(f"{m} {s[m]['diff_vs_baseline']['mean']:+.4f}±{s[m]['diff_vs_baseline']['sd']:.4f} "
                          f"({s[m]['diff_vs_baseline']['folds_better']}/{s[m]['diff_vs_baseline']['folds_worse']})"
                          for m in ("accuracy", "macro_f1"))
        print(f"  {name:<45}{cells}")
    for fail in failures:
        print(f"FAILED: fold {fail['fold']}: {fail['name']}: {fail['error']}")
    elapsed = time.perf_counter() - started
    print(f"\nerrors = validation messages misclassified over all folds (out of {len(lines)}); fit s = mean "
          f"fit seconds per fold (mailtriage: whole `train` process, all cores; peers: one core, text "
          f"already parsed, {parse_s:.1f} s once). Total {elapsed:.0f} s.")

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(dict(
            question="does a second model family beat mailtriage's linear model on validation folds "
                     "carved from the training split (older groups only)?",
            split=dict(source=args.train, messages=len(lines), folds=args.folds,
                       method="stratified by group; within a group sorted by sha256(id), position i -> fold i % K",
                       test_split_read=False, fold_sizes=fold_sizes),
            baseline=BASELINE, results=results, summary=summary, failures=failures, seconds=elapsed,
            fasttext_variants={n: s for n, s in FASTTEXT_VARIANTS}), f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
