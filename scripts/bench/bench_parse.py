#!/usr/bin/env python3
"""Driver for scripts/bench-parse.sh (standard library only).

Times `mailtriage parse` over the SpamAssassin corpus (eml tree and mbox form,
optionally single-threaded) against the Python `email` baselines in
scripts/bench/python_email_parse.py, RUNS times each (interleaved round-robin),
and prints medians, messages/s, MB/s (10^6 bytes of raw input) and ratios.

mailtriage times are wall clock around the whole process (startup included);
the Python baselines report the time of their own walk+read+parse loop
(interpreter startup and imports excluded), which slightly favours Python.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "python_email_parse.py")


def die(msg):
    sys.stderr.write("bench-parse: error: %s\n" % msg)
    sys.exit(1)


def tree_bytes(root):
    n = b = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            n += 1
            b += os.path.getsize(os.path.join(dirpath, f))
    return n, b


def run_checked(cmd, label):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write("bench-parse: run '%s' FAILED (exit %d): %s\n"
                         % (label, p.returncode, " ".join(cmd)))
        tail = (p.stderr or b"")[-4000:].decode("utf-8", "replace")
        if tail:
            sys.stderr.write("---- stderr (tail) ----\n%s\n-----------------------\n" % tail)
        sys.exit(1)
    return dt, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="mailtriage binary")
    ap.add_argument("--corpus", default="data/spamassassin")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads1", type=int, default=1, help="1 = also time --threads 1 on eml")
    ap.add_argument("--out", default="target/bench-parse.json")
    args = ap.parse_args()
    if args.runs < 1:
        die("RUNS must be >= 1")

    corpus = args.corpus
    eml = os.path.join(corpus, "eml")
    mboxes = [os.path.join(corpus, "train.mbox"), os.path.join(corpus, "test.mbox")]
    for p in [eml] + mboxes:
        if not os.path.exists(p):
            die("%s missing: run scripts/fetch-corpus.sh" % p)
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        die("%s is not an executable: build it with 'cargo build --release -p mailtriage-cli'"
            % args.bin)

    n_msgs, eml_bytes = tree_bytes(eml)
    mbox_bytes = sum(os.path.getsize(p) for p in mboxes)
    mt_common = ["--output", "/dev/null", "--quiet"]
    eml_in = ["--input", "eml:" + eml]
    mbox_in = [x for p in mboxes for x in ("--input", p)]

    contenders = [
        {"name": "mailtriage eml", "kind": "mailtriage", "bytes": eml_bytes,
         "cmd": [args.bin, "parse"] + eml_in + mt_common},
        {"name": "mailtriage mbox", "kind": "mailtriage", "bytes": mbox_bytes,
         "cmd": [args.bin, "parse"] + mbox_in + mt_common},
    ]
    if args.threads1:
        contenders.append(
            {"name": "mailtriage eml --threads 1", "kind": "mailtriage", "bytes": eml_bytes,
             "cmd": [args.bin, "parse"] + eml_in + mt_common + ["--threads", "1"]})
    contenders += [
        {"name": "python email fast", "kind": "python", "mode": "fast", "bytes": eml_bytes,
         "cmd": [sys.executable, PEER, "--mode", "fast", eml]},
        {"name": "python email modern", "kind": "python", "mode": "modern", "bytes": eml_bytes,
         "cmd": [sys.executable, PEER, "--mode", "modern", eml]},
    ]
    for c in contenders:
        c["messages"] = n_msgs
        c["seconds"] = []
        c["wall_seconds"] = []

    try:
        ncpu = int(subprocess.run(["nproc"], stdout=subprocess.PIPE, check=True).stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pyver = platform.python_version()
    print("machine: %d cores (nproc), Python %s (%s), %s"
          % (ncpu, pyver, sys.executable, platform.platform()))
    print("corpus: %d messages, eml tree %d bytes, mbox %d bytes; %d run(s) each, median reported"
          % (n_msgs, eml_bytes, mbox_bytes, args.runs))

    # Warm-up (untimed): fills the page cache and checks that mailtriage sees every message.
    warnings = []
    outdir = os.path.dirname(args.out) or "."
    os.makedirs(outdir, exist_ok=True)
    for c in contenders:
        if c["kind"] != "mailtriage" or "--threads" in c["cmd"]:
            continue
        summ = os.path.join(outdir, "bench-parse-warmup.json")
        if os.path.exists(summ):
            os.unlink(summ)
        run_checked(c["cmd"] + ["--summary", summ], c["name"] + " (warm-up)")
        try:
            with open(summ) as f:
                s = json.load(f)
            read = s.get("read")
            if read != n_msgs:
                warnings.append("%s: summary says read=%s, expected %d messages"
                                % (c["name"], read, n_msgs))
        except (OSError, ValueError) as e:
            warnings.append("%s: could not read warm-up summary %s (%s)" % (c["name"], summ, e))

    for r in range(args.runs):
        for c in contenders:
            dt, out = run_checked(c["cmd"], c["name"])
            c["wall_seconds"].append(dt)
            if c["kind"] == "python":
                try:
                    res = json.loads(out.decode().strip().splitlines()[-1])
                except (ValueError, IndexError):
                    die("%s printed no JSON result: %r" % (c["name"], out[-500:]))
                if res["messages"] != n_msgs or res["bytes"] != eml_bytes:
                    die("%s saw %s messages / %s bytes, expected %d / %d"
                        % (c["name"], res["messages"], res["bytes"], n_msgs, eml_bytes))
                c["seconds"].append(res["seconds"])
                c["errors"] = res["errors"]
            else:
                c["seconds"].append(dt)
        sys.stdout.write("  run %d/%d done\n" % (r + 1, args.runs))
        sys.stdout.flush()

    for c in contenders:
        c["median_seconds"] = statistics.median(c["seconds"])
        c["messages_per_second"] = c["messages"] / c["median_seconds"]
        c["mb_per_second"] = c["bytes"] / 1e6 / c["median_seconds"]
    py = {c["mode"]: c for c in contenders if c["kind"] == "python"}
    for c in contenders:
        c["vs_python_fast"] = c["messages_per_second"] / py["fast"]["messages_per_second"]
        c["vs_python_modern"] = c["messages_per_second"] / py["modern"]["messages_per_second"]

    hdr = "%-28s %9s %9s %11s %8s %10s %12s" % (
        "contender", "median s", "min s", "msgs/s", "MB/s", "vs py-fast", "vs py-modern")
    print()
    print(hdr)
    print("-" * len(hdr))
    for c in contenders:
        extra = ""
        if c["kind"] == "python":
            extra = "  (%d msgs with errors)" % c.get("errors", 0)
        print("%-28s %9.3f %9.3f %11.0f %8.2f %9.2fx %11.2fx%s" % (
            c["name"], c["median_seconds"], min(c["seconds"]), c["messages_per_second"],
            c["mb_per_second"], c["vs_python_fast"], c["vs_python_modern"], extra))
    print()
    print("ratios are messages/s of the contender divided by the Python baseline's "
          "(>1 = faster); MB = 10^6 bytes of raw input (mbox run: the mbox files' bytes).")
    print("mailtriage: wall clock of the whole process, default threads = all cores "
          "unless '--threads 1'; Python: its own loop only, one core.")
    for w in warnings:
        print("WARNING: " + w)

    out = {
        "machine": {"nproc": ncpu, "python": pyver, "platform": platform.platform()},
        "runs": args.runs,
        "corpus": {"messages": n_msgs, "eml_bytes": eml_bytes, "mbox_bytes": mbox_bytes},
        "warnings": warnings,
        "contenders": [
            {k: c[k] for k in ("name", "kind", "cmd", "messages", "bytes", "seconds",
                               "wall_seconds", "median_seconds", "messages_per_second",
                               "mb_per_second", "vs_python_fast", "vs_python_modern")
             if k in c} | ({"errors": c["errors"]} if "errors" in c else {})
            for c in contenders
        ],
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
