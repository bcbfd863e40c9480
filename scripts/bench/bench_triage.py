#!/usr/bin/env python3
"""Driver of scripts/bench-triage.sh: mailtriage against scikit-learn and fastText on the
SpamAssassin temporal split (train on `train`, measure on `test`), in one run, the peers'
rounds between mailtriage's.

mailtriage is timed as whole processes (`train`, then `classify` from raw JSONL to decisions
written), on all cores; the peers (scripts/bench/triage_peers.py) parse raw messages with
Python's `email` module and run on one core. Prints a table with the ratios and writes
target/bench-triage.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

STREAM_REPEAT = 8


def timed(cmd):
    """Runs cmd under /usr/bin/time when present; returns (seconds, peak RSS bytes or None)."""
    rss_file = "target/bench-triage/time.out"
    use_time = os.path.exists("/usr/bin/time")
    full = (["/usr/bin/time", "-f", "%M", "-o", rss_file] if use_time else []) + cmd
    t = time.perf_counter()
    subprocess.run(full, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t
    rss = None
    if use_time:
        with open(rss_file) as f:
            rss = int(f.read().strip().splitlines()[-1]) * 1024
    return seconds, rss


def scores(test_path, decisions_path):
    truth = {}
    with open(test_path) as f:
        for line in f:
            r = json.loads(line)
            truth[r["id"]] = r["label"]
    tp = fp = fn = tn = 0
    with open(decisions_path) as f:
        for line in f:
            d = json.loads(line)
            p, t = d["heads"][0]["label"], truth[d["id"]]
            tp += p == "spam" and t == "spam"
            fp += p == "spam" and t != "spam"
            fn += p != "spam" and t == "spam"
            tn += p != "spam" and t != "spam"
    n = tp + fp + fn + tn
    sp = tp / (tp + fp) if tp + fp else 0.0
    sr = tp / (tp + fn) if tp + fn else 0.0
    hp = tn / (tn + fn) if tn + fn else 0.0
    hr = tn / (tn + fp) if tn + fp else 0.0
    f1 = lambda p, r: 2 * p * r / (p + r) if p + r else 0.0
    return dict(accuracy=(tp + tn) / n, macro_f1=(f1(sp, sr) + f1(hp, hr)) / 2,
                spam_precision=sp, spam_recall=sr)


def median_peer(runs):
    """One peer's rounds as one row: the median of each throughput (accuracy is the same in
    every round: the peers are seeded and single-threaded), with the rounds kept."""
    if any("error" in r for r in runs):
        return next(r for r in runs if "error" in r)
    row = dict(runs[0])
    for key in ("train_per_s", "predict_per_s"):
        row[key] = statistics.median(r[key] for r in runs)
        row[key + "_rounds"] = [r[key] for r in runs]
    row["peak_rss_bytes"] = max(r["peak_rss_bytes"] for r in runs)
    return row


def count(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs("target/bench-triage", exist_ok=True)
    train, test = f"{args.corpus}/train.jsonl", f"{args.corpus}/test.jsonl"
    n_train, n_test = count(train), count(test)
    model = "target/bench-triage/model.mt"
    decisions = "target/bench-triage/decisions.jsonl"

    # A stream of the test split repeated STREAM_REPEAT times: throughput once the process
    # has started and loaded its model (a service or a Spark executor runs for hours). The
    # single pass over the test split, start-up included, is reported too.
    stream = "target/bench-triage/test-stream.jsonl"
    with open(test, "rb") as src, open(stream, "wb") as dst:
        data = src.read()
        for _ in range(STREAM_REPEAT):
            dst.write(data)
    n_stream = n_test * STREAM_REPEAT

    # The peers run between mailtriage's rounds, one round each, so that both sides see the
    # machine in the same state (its speed drifts by half over hours on a shared host): the
    # ratios compare medians taken over the same stretch of time.
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # One untimed run of each command first: the first process after a build or a fetch
    # reads the binary, the corpus and the dictionaries from disk (0.21 s instead of 0.17 s
    # for `train` after the page cache was dropped). The peers are timed inside their
    # process, after their imports and with their input read: this is the same footing.
    subprocess.run([args.bin, "train", "-i", train, "--label-field", "label", "--out", model, "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([args.bin, "classify", "--model", model, "-i", stream, "-o", "/dev/null", "-q"],
                   check=True, stdout=subprocess.DEVNULL)
    train_runs, classify_runs, stream_runs, parse_runs, peer_runs = [], [], [], [], []
    for _ in range(args.runs):
        train_runs.append(timed([args.bin, "train", "-i", train, "--label-field", "label", "--out", model, "-q"]))
        classify_runs.append(timed([args.bin, "classify", "--model", model, "-i", test, "-o", decisions, "-q"]))
        stream_runs.append(timed([args.bin, "classify", "--model", model, "-i", stream, "-o", "/dev/null", "-q"]))
        parse_runs.append(timed([args.bin, "parse", "-i", stream, "-o", "/dev/null", "-q"]))
        out = subprocess.run([args.python, "scripts/bench/triage_peers.py", train, test],
                             check=True, capture_output=True, text=True, env=env)
        peer_runs.append([json.loads(line) for line in out.stdout.splitlines() if line.strip()])
    median = lambda runs: statistics.median(s for s, _ in runs)
    ours = dict(
        name="mailtriage (all cores)",
        train_per_s=n_train / median(train_runs),
        predict_per_s=n_stream / median(stream_runs),
        predict_single_pass_per_s=n_test / median(classify_runs),
        parse_only_per_s=n_stream / median(parse_runs),
        peak_rss_bytes=max((r or 0) for _, r in train_runs + classify_runs + stream_runs) or None,
        **scores(test, decisions),
    )

    peers = [median_peer([run[i] for run in peer_runs]) for i in range(len(peer_runs[0]))]

    print(f"machine: {os.cpu_count()} cores; train {n_train} messages (train split), measure {n_test} (test split, newer mail)")
    print(f"{'contender':<55}{'acc':>7}{'macroF1':>9}{'spamP':>8}{'spamR':>8}{'train/s':>10}{'classify/s':>12}{'peak MiB':>10}")
    rows = [ours] + peers
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<55} failed: {r['error']}")
            continue
        rss = f"{r['peak_rss_bytes'] / 2**20:.0f}" if r.get("peak_rss_bytes") else "-"
        print(f"{r['name']:<55}{r['accuracy']:>7.4f}{r['macro_f1']:>9.4f}{r['spam_precision']:>8.4f}"
              f"{r['spam_recall']:>8.4f}{r['train_per_s']:>10.0f}{r['predict_per_s']:>12.0f}{rss:>10}")
    print(f"\nmailtriage classify: {ours['predict_per_s']:.0f} messages/s on a stream of the test split x{STREAM_REPEAT} "
          f"({n_stream} messages), {ours['predict_single_pass_per_s']:.0f}/s on one pass of it with start-up and "
          f"model load; parse alone {ours['parse_only_per_s']:.0f}/s on the same stream, so features, model and "
          f"decisions take {100 * (1 - ours['predict_per_s'] / ours['parse_only_per_s']):.0f}% of classify's time.")
    print("\nratios (mailtriage / peer):")
    for p in peers:
        if "error" in p:
            continue
        print(f"  vs {p['name']}: classify {ours['predict_per_s'] / p['predict_per_s']:.1f}x "
              f"(one pass {ours['predict_single_pass_per_s'] / p['predict_per_s']:.1f}x), "
              f"train {ours['train_per_s'] / p['train_per_s']:.1f}x, "
              f"accuracy {ours['accuracy'] - p['accuracy']:+.4f}, macro-F1 {ours['macro_f1'] - p['macro_f1']:+.4f}")
        # Round by round (each of ours against the peer run just after it): the spread says
        # how far the medians' ratio can be trusted.
        rounds = lambda ours_runs, n, key: " ".join(
            f"{n / s / peer:.1f}x" for (s, _), peer in zip(ours_runs, p[key + "_rounds"]))
        print(f"      rounds: classify {rounds(stream_runs, n_stream, 'predict_per_s')}; "
              f"train {rounds(train_runs, n_train, 'train_per_s')}")
    print("\nmailtriage: whole processes (raw JSONL in, model or decisions written), median of "
          f"{args.runs}; peers: Python email parsing + vectorising + model, one core, median of "
          f"{args.runs} rounds run between mailtriage's, timed inside the process (no start-up, "
          "no model load).")
    with open("target/bench-triage.json", "w") as f:
        json.dump({"mailtriage": ours, "peers": peers, "train": n_train, "test": n_test}, f, indent=2)
    print("wrote target/bench-triage.json")


if __name__ == "__main__":
    sys.exit(main())
