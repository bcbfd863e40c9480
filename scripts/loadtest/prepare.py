#!/usr/bin/env python3
"""Corpus and small helpers for scripts/loadtest.sh (python3 standard library only).

  prepare.py wrk-corpus JSONL OUT [--count 500]
      Writes COUNT messages spread evenly over JSONL (so spam and ham are mixed) in the
      length-prefixed format scripts/loadtest/triage.lua reads: per message, a line with its
      byte length, then the raw bytes.
  prepare.py eml-dirs JSONL OUTDIR [--limit-per-label N]
      Writes each message to OUTDIR/<label>/<n>.eml (for `rspamc learn_spam/learn_ham DIR`).
  prepare.py free-port PREFERRED
      Prints PREFERRED if nothing listens on 127.0.0.1:PREFERRED and it can be bound, else a
      free port the kernel picks.
  prepare.py wait-http URL TIMEOUT [--pid PID] [--expect-body TEXT]
      Polls URL until it answers 200 (and, with --expect-body, the body holds TEXT). Exits 1
      on timeout, 2 when PID is given and that process has exited meanwhile.
  prepare.py cpu-check [--seconds 1] [--threshold 15] [--wait 0]
      Prints a warning (and exits 0) when other processes keep the CPUs busy (over THRESHOLD
      percent), which would make the figures low: the share of CPU time in use over the
      sample, and the top users. With --wait, samples again for up to that many seconds
      until the machine is idle, and warns only if it never is.
  prepare.py cpu-mark FILE --root PID  /  prepare.py cpu-others FILE --root PID [--threshold 10]
      Marks the CPU time used so far (by the machine, and by PID and all processes under it),
      then warns if processes outside PID's tree used THRESHOLD percent or more of the
      machine's CPU since the mark.
  prepare.py probe URL BODY_FILE [--token T] [--content-type CT]
      POSTs one message and prints the status and the start of the reply; exits 1 unless 200.
"""

import argparse
import base64
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def message_bytes(record):
    if "raw" in record and record["raw"] is not None:
        return record["raw"].encode("utf-8", "surrogateescape")
    if "raw_base64" in record and record["raw_base64"] is not None:
        return base64.b64decode(record["raw_base64"])
    raise ValueError(f"record {record.get('id')!r} has neither raw nor raw_base64")


def read_jsonl(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        sys.exit(f"prepare.py: error: cannot read {path}: {e} (run scripts/fetch-corpus.sh)")


def wrk_corpus(args):
    records = read_jsonl(args.jsonl)
    if not records:
        sys.exit(f"prepare.py: error: {args.jsonl} holds no records")
    count = min(args.count, len(records))
    step = len(records) / count
    picked = [records[int(i * step)] for i in range(count)]
    labels = {}
    total = 0
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as out:
        for r in picked:
            body = message_bytes(r)
            out.write(b"%d\n" % len(body))
            out.write(body)
            out.write(b"\n")
            total += len(body)
            labels[r.get("label", "?")] = labels.get(r.get("label", "?"), 0) + 1
    os.replace(tmp, args.out)
    mix = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
    print(f"wrote {count} messages ({mix}; {total / count / 1024:.1f} KiB on average) to {args.out}")


def eml_dirs(args):
    records = read_jsonl(args.jsonl)
    counts = {}
    for n, r in enumerate(records):
        label = r.get("label")
        if label not in ("spam", "ham"):
            continue
        if args.limit_per_label and counts.get(label, 0) >= args.limit_per_label:
            continue
        d = os.path.join(args.outdir, label)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{n}.eml"), "wb") as f:
            f.write(message_bytes(r))
        counts[label] = counts.get(label, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(0.3)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    finally:
        s.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As servers do (tokio, redis, rspamd): connections of an earlier run still in
    # TIME_WAIT do not make the port busy.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(args):
    if args.preferred > 0 and port_free(args.preferred):
        print(args.preferred)
        return
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the shell) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_http(args):
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if args.pid and not pid_alive(args.pid):
            print(f"process {args.pid} exited while waiting for {args.url}", file=sys.stderr)
            sys.exit(2)
        try:
            with urllib.request.urlopen(args.url, timeout=2) as r:
                body = r.read().decode("utf-8", "replace")
                if r.status == 200 and (not args.expect_body or args.expect_body in body):
                    return
                last = f"HTTP {r.status}: {body[:100]}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            last = str(getattr(e, "reason", e))
        time.sleep(0.2)
    print(f"{args.url} not ready after {args.timeout:g} s (last: {last})", file=sys.stderr)
    sys.exit(1)


def cpu_times():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]), idle


def proc_times():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
            name = raw[raw.index("(") + 1: raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            out[int(pid)] = (name, int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_sample(seconds):
    t0, i0 = cpu_times()
    p0 = proc_times()
    time.sleep(seconds)
    t1, i1 = cpu_times()
    p1 = proc_times()
    total = t1 - t0
    busy = 100.0 * (1 - (i1 - i0) / total) if total > 0 else 0.0
    return busy, p0, p1


def cpu_check(args):
    start = time.monotonic()
    deadline = start + args.wait
    waited = False
    while True:
        try:
            busy, p0, p1 = cpu_sample(args.seconds)
        except OSError:
            return  # not Linux: no check
        if busy < args.threshold:
            if waited:
                print(f"  (waited {time.monotonic() - start:.0f} s for other processes to leave the CPUs idle)",
                      file=sys.stderr)
            return
        if time.monotonic() >= deadline:
            break
        waited = True
    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    users = []
    for pid, (name, t) in p1.items():
        if pid == me or pid not in p0:
            continue
        d = (t - p0[pid][1]) / hz / args.seconds * 100
        if d >= 5:
            users.append((d, pid, name))
    users.sort(reverse=True)
    top = ", ".join(f"{name} (pid {pid}) {d:.0f}%" for d, pid, name in users[:4]) or "short-lived processes"
    print(f"warning: the machine is already {busy:.0f}% busy before the load ({top})"
          + (f" and stayed busy for {args.wait:g} s" if args.wait else "")
          + "; the figures will be low")


def own_ticks(root):
    """CPU ticks used by ROOT and every process under it, with their reaped children."""
    parents, ticks = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        parents[int(pid)] = int(fields[1])
        ticks[int(pid)] = sum(int(x) for x in fields[11:15])
    total = 0
    for pid in ticks:
        p, seen = pid, 0
        while p and p != root and seen < 64:
            p, seen = parents.get(p, 0), seen + 1
        if p == root:
            total += ticks[pid]
    return total


def cpu_mark(args):
    t, idle = cpu_times()
    with open(args.file, "w") as f:
        json.dump({"total": t, "idle": idle, "own": own_ticks(args.root)}, f)


def cpu_others(args):
    try:
        with open(args.file) as f:
            before = json.load(f)
    except (OSError, ValueError):
        return
    t, idle = cpu_times()
    own = own_ticks(args.root)
    total = t - before["total"]
    if total <= 0:
        return
    busy = total - (idle - before["idle"])
    others = max(0.0, 100.0 * (busy - (own - before["own"])) / total)
    if others >= args.threshold:
        print(f"warning: other processes used {others:.0f}% of the machine's CPU during the run; "
              f"the figures are low")


def probe(args):
    with open(args.body_file, "rb") as f:
        data = f.read()
    # The wrk corpus: take its first message.
    first_line, _, rest = data.partition(b"\n")
    if first_line.isdigit():
        data = rest[: int(first_line)]
    req = urllib.request.Request(args.url, data=data, method="POST")
    req.add_header("Content-Type", args.content_type)
    if args.token:
        req.add_header("Authorization", f"Bearer {args.token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            print(f"HTTP {r.status}: {r.read(200).decode('utf-8', 'replace')}")
    except urllib.error.HTTPError as e:
        print(f"HTTP {e.code}: {e.read(300).decode('utf-8', 'replace')}")
        sys.exit(1)
    except (urllib.error.URLError, OSError) as e:
        print(f"no answer: {getattr(e, 'reason', e)}")
        sys.exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("wrk-corpus")
    a.add_argument("jsonl")
    a.add_argument("out")
    a.add_argument("--count", type=int, default=500)
    a.set_defaults(fn=wrk_corpus)
    a = sub.add_parser("eml-dirs")
    a.add_argument("jsonl")
    a.add_argument("outdir")
    a.add_argument("--limit-per-label", type=int, default=0)
    a.set_defaults(fn=eml_dirs)
    a = sub.add_parser("free-port")
    a.add_argument("preferred", type=int)
    a.set_defaults(fn=free_port)
    a = sub.add_parser("wait-http")
    a.add_argument("url")
    a.add_argument("timeout", type=float)
    a.add_argument("--pid", type=int, default=0)
    a.add_argument("--expect-body", default="")
    a.set_defaults(fn=wait_http)
    a = sub.add_parser("cpu-check")
    a.add_argument("--seconds", type=float, default=1.0)
    a.add_argument("--threshold", type=float, default=15.0)
    a.add_argument("--wait", type=float, default=0.0,
                   help="keep sampling up to this many seconds for the machine to become idle")
    a.set_defaults(fn=cpu_check)
    a = sub.add_parser("cpu-mark")
    a.add_argument("file")
    a.add_argument("--root", type=int, required=True)
    a.set_defaults(fn=cpu_mark)
    a = sub.add_parser("cpu-others")
    a.add_argument("file")
    a.add_argument("--root", type=int, required=True)
    a.add_argument("--threshold", type=float, default=10.0)
    a.set_defaults(fn=cpu_others)
    a = sub.add_parser("probe")
    a.add_argument("url")
    a.add_argument("body_file")
    a.add_argument("--token", default="")
    a.add_argument("--content-type", default="message/rfc822")
    a.set_defaults(fn=probe)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
