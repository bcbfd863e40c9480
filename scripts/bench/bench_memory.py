#!/usr/bin/env python3
"""Driver for scripts/bench-memory.sh (standard library only).

1. Builds --big (default data/big/big.mbox) as N copies of train.mbox+test.mbox,
   N = ceil(SIZE_GB * 10^9 / (size(train)+size(test))); reused when its size
   is exactly N * that pair size.
2. Runs `mailtriage parse` on train.mbox (small) and on the big mbox, each with
   --summary, under GNU time (-f %M, peak RSS in KiB) when available.
3. Prints input size, messages, seconds, msgs/s, MB/s and peak RSS for both.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time


def die(msg):
    sys.stderr.write("bench-memory: error: %s\n" % msg)
    sys.exit(1)


def build_big(corpus, big, size_gb):
    parts = [os.path.join(corpus, "train.mbox"), os.path.join(corpus, "test.mbox")]
    for p in parts:
        if not os.path.isfile(p):
            die("%s missing: run scripts/fetch-corpus.sh" % p)
    pair = sum(os.path.getsize(p) for p in parts)
    copies = max(1, math.ceil(size_gb * 1e9 / pair))
    want = copies * pair
    if os.path.isfile(big) and os.path.getsize(big) == want:
        print("reusing %s (%d bytes = %d copies of train.mbox+test.mbox)" % (big, want, copies))
        return copies, want
    d = os.path.dirname(big) or "."
    os.makedirs(d, exist_ok=True)
    have = shutil.disk_usage(d).free + (os.path.getsize(big) if os.path.isfile(big) else 0)
    if have < want + 200 * 1024 * 1024:
        die("not enough disk space in %s for a %.2f GB mbox (%.2f GB free); "
            "free some space or pass a smaller SIZE_GB" % (d, want / 1e9, have / 1e9))
    if os.path.exists(big):
        os.unlink(big)
    data = b"".join(open(p, "rb").read() for p in parts)
    tmp = big + ".tmp"
    t0 = time.perf_counter()
    with open(tmp, "wb") as f:
        for _ in range(copies):
            f.write(data)
    os.replace(tmp, big)
    print("built %s: %d bytes (%d copies of train.mbox+test.mbox) in %.1f s"
          % (big, want, copies, time.perf_counter() - t0))
    return copies, want


def run(bin_, inp, summary, time_bin, label):
    if os.path.exists(summary):
        os.unlink(summary)
    cmd = [bin_, "parse", "--input", inp, "--output", "/dev/null", "--quiet",
           "--summary", summary]
    rss_file = None
    if time_bin:
        rss_file = summary + ".time"
        cmd = [time_bin, "-f", "%M", "-o", rss_file] + cmd
    print("running: %s" % " ".join(cmd))
    sys.stdout.flush()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    res = {"name": label, "input": inp, "input_bytes": os.path.getsize(inp),
           "cmd": cmd, "exit_code": p.returncode, "wall_seconds": wall}
    if p.returncode != 0:
        sys.stderr.write("bench-memory: run '%s' FAILED (exit %d)\n" % (label, p.returncode))
        tail = p.stderr[-4000:].decode("utf-8", "replace")
        if tail:
            sys.stderr.write("---- stderr (tail) ----\n%s\n-----------------------\n" % tail)
        return res
    if rss_file:
        try:
            with open(rss_file) as f:
                # last line: GNU time may prepend "Command exited with ..." lines
                res["time_peak_rss_bytes"] = int(f.read().strip().splitlines()[-1]) * 1024
        except (OSError, ValueError, IndexError) as e:
            sys.stderr.write("bench-memory: warning: could not read %s (%s)\n" % (rss_file, e))
        finally:
            if os.path.exists(rss_file):
                os.unlink(rss_file)
    try:
        with open(summary) as f:
            res["summary"] = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("bench-memory: error: run '%s' wrote no readable --summary %s (%s)\n"
                         % (label, summary, e))
        res["summary_error"] = str(e)
    return res


def fmt_bytes(n):
    if n is None:
        return "n/a"
    return "%.1f MiB" % (n / 1048576)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", default="data/spamassassin")
    ap.add_argument("--size-gb", type=float, default=1.0)
    ap.add_argument("--big", default="data/big/big.mbox")
    ap.add_argument("--time-bin", default="", help="GNU time binary, empty to skip")
    ap.add_argument("--out", default="target/bench-memory.json")
    args = ap.parse_args()
    if args.size_gb <= 0:
        die("SIZE_GB must be > 0")
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        die("%s is not an executable: build it with 'cargo build --release -p mailtriage-cli'"
            % args.bin)

    copies, _ = build_big(args.corpus, args.big, args.size_gb)
    stamp_msgs = None
    try:
        with open(os.path.join(args.corpus, ".complete")) as f:
            st = json.load(f)
        stamp_msgs = {s: sum(v["messages"] for v in st["splits"][s].values())
                      for s in ("train", "test")}
    except (OSError, ValueError, KeyError):
        pass

    outdir = os.path.dirname(args.out) or "."
    os.makedirs(outdir, exist_ok=True)
    small = run(args.bin, os.path.join(args.corpus, "train.mbox"),
                os.path.join(outdir, "small-summary.json"), args.time_bin, "small (train.mbox)")
    big = run(args.bin, args.big, os.path.join(outdir, "big-summary.json"), args.time_bin,
              "big (%s)" % os.path.basename(args.big))
    if stamp_msgs:
        small["expected_messages"] = stamp_msgs["train"]
        big["expected_messages"] = copies * (stamp_msgs["train"] + stamp_msgs["test"])

    rows = [small, big]
    failed = False
    warnings = []
    print()
    hdr = "%-22s %10s %9s %9s %10s %8s %16s %16s" % (
        "run", "input MB", "messages", "seconds", "msgs/s", "MB/s",
        "peak RSS (time)", "peak RSS (summ.)")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        s = r.get("summary") or {}
        if r["exit_code"] != 0 or "summary" not in r:
            failed = True
        msgs = s.get("read", s.get("parsed"))
        secs = r["wall_seconds"]
        r["messages"] = msgs
        r["messages_per_second"] = (msgs / secs) if (msgs is not None and secs > 0
                                                     and r["exit_code"] == 0) else None
        ok = r["exit_code"] == 0 and secs > 0
        r["mb_per_second"] = r["input_bytes"] / 1e6 / secs if ok else None
        r["summary_peak_rss_bytes"] = s.get("peak_rss_bytes")
        if r.get("expected_messages") is not None and msgs is not None \
                and msgs != r["expected_messages"]:
            warnings.append("%s: summary read=%s, expected %d messages"
                            % (r["name"], msgs, r["expected_messages"]))
        print("%-22s %10.1f %9s %9.2f %10s %8s %16s %16s%s" % (
            r["name"], r["input_bytes"] / 1e6,
            "n/a" if msgs is None else msgs, secs,
            "n/a" if r["messages_per_second"] is None else "%.0f" % r["messages_per_second"],
            "n/a" if r["mb_per_second"] is None else "%.1f" % r["mb_per_second"],
            fmt_bytes(r.get("time_peak_rss_bytes")) if args.time_bin else "skipped",
            fmt_bytes(r["summary_peak_rss_bytes"]),
            "  FAILED" if r["exit_code"] != 0 else ""))
    print()
    growth = big["input_bytes"] / small["input_bytes"]
    for key, what in (("time_peak_rss_bytes", "/usr/bin/time"),
                      ("summary_peak_rss_bytes", "summary")):
        a, b = small.get(key), big.get(key)
        if a and b:
            print("input grew %.1fx; peak RSS (%s) grew %.2fx (%s -> %s)"
                  % (growth, what, b / a, fmt_bytes(a), fmt_bytes(b)))
    print("seconds = wall clock of the whole process (page cache warm: the big mbox was "
          "just written or read); MB = 10^6 bytes of input.")
    for w in warnings:
        print("WARNING: " + w)

    with open(args.out, "w") as f:
        json.dump({"size_gb": args.size_gb, "copies": copies, "runs": rows,
                   "warnings": warnings}, f, indent=2)
        f.write("\n")
    print("wrote %s" % args.out)
    if failed:
        die("a mailtriage run failed or wrote no --summary (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
