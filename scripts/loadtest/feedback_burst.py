#!/usr/bin/env python3
"""The fault test of scripts/loadtest.sh (python3 standard library only).

  feedback_burst.py burst --url URL --triage-token T --reviewer-token R --corpus JSONL \
      --kill-pid PID --out ACKS.json [--count 300] [--threads 8] [--kill-after N]
    Triages COUNT messages, then sends a correction for each (the corpus label) from THREADS
    concurrent threads, recording every feedback_id the service acknowledged with 200. Once
    N corrections (default COUNT/3) are acknowledged, it SIGKILLs PID while the other threads
    keep sending; requests that fail after that were never acknowledged and are fine.

  feedback_burst.py check --store DB --acks ACKS.json --out CHECK.json \
      [--url URL --triage-token T --reviewer-token R --corpus JSONL]
    After the service was restarted on the same store: every acknowledged feedback_id must
    be in the store's feedback table with its decision and labels. With --url, also checks
    that the restarted service triages and takes a correction again. Prints PASS/FAIL lines
    and exits 1 on any FAIL.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse


def message_bytes(record):
    if record.get("raw") is not None:
        return record["raw"].encode("utf-8", "surrogateescape")
    return base64.b64decode(record["raw_base64"])


def load_messages(path, count, offset=0):
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    records = [r for r in records if r.get("label") in ("spam", "ham")]
    if not records:
        sys.exit(f"feedback_burst.py: error: no labelled records in {path}")
    step = len(records) / max(1, count)
    picked = [records[(offset + int(i * step)) % len(records)] for i in range(count)]
    return picked


class Client:
    """One keep-alive HTTP connection; reconnects after a failure."""

    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.timeout = timeout
        self.conn = None

    def post(self, path, body, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", path, body=body, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            return r.status, data
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def triage_all(url, token, messages, threads=4):
    """Triage each message; returns [(decision_id, corpus label, decided label)]."""
    out = [None] * len(messages)
    errors = []
    next_i = [0]
    lock = threading.Lock()

    def work():
        c = Client(url)
        headers = {"Content-Type": "message/rfc822", "Authorization": f"Bearer {token}"}
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= len(messages):
                break
            m = messages[i]
            try:
                status, data = c.post("/v1/triage", message_bytes(m), headers)
            except Exception as e:
                errors.append(f"message {m.get('id')}: {e}")
                continue
            if status != 200:
                errors.append(f"message {m.get('id')}: HTTP {status}: {data[:200]!r}")
                continue
            d = json.loads(data)
            decided = next((h["label"] for h in d.get("heads", []) if h.get("head") == "label"), None)
            out[i] = (d["decision_id"], m["label"], decided)
        c.close()

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [o for o in out if o is not None], errors


def burst(args):
    messages = load_messages(args.corpus, args.count, offset=7)
    t0 = time.monotonic()
    decisions, errors = triage_all(args.url, args.triage_token, messages)
    if errors:
        print(f"triage errors ({len(errors)}), first: {errors[0]}", file=sys.stderr)
    if len(decisions) < max(3, args.count // 2):
        sys.exit(f"feedback_burst.py: error: only {len(decisions)} of {args.count} messages were triaged")
    triage_s = time.monotonic() - t0
    kill_after = args.kill_after or max(1, len(decisions) // 3)

    lock = threading.Lock()
    acks = []
    failures = {}
    state = {"next": 0, "killed": False, "killed_at_acks": None, "sent_before_kill": None,
             "kill_time": None}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.reviewer_token}"}

    def kill_now(reason):
        # Called with the lock held.
        if state["killed"]:
            return
        try:
            os.kill(args.kill_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        state["killed"] = True
        state["killed_at_acks"] = len(acks)
        state["sent_before_kill"] = state["next"]
        state["kill_time"] = time.monotonic() - t1
        state["kill_reason"] = reason

    def work():
        c = Client(args.url, timeout=5.0)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(decisions):
                break
            decision_id, label, _decided = decisions[i]
            labels = {"label": label}
            body = json.dumps({"decision_id": decision_id, "labels": labels}).encode()
            try:
                status, data = c.post("/v1/feedback", body, headers)
            except Exception as e:
                key = type(e).__name__
                with lock:
                    failures[key] = failures.get(key, 0) + 1
                continue
            if status != 200:
                with lock:
                    failures[f"HTTP {status}"] = failures.get(f"HTTP {status}", 0) + 1
                continue
            try:
                reply = json.loads(data)
                fid = int(reply["feedback_id"])
            except (ValueError, KeyError, TypeError):
                with lock:
                    failures["bad reply"] = failures.get("bad reply", 0) + 1
                continue
            with lock:
                acks.append({"feedback_id": fid, "decision_id": decision_id, "labels": labels,
                             "state": reply.get("state"), "after_kill": state["killed"]})
                if not state["killed"] and len(acks) >= kill_after:
                    kill_now(f"after {kill_after} acknowledged corrections")
        c.close()

    t1 = time.monotonic()
    ts = [threading.Thread(target=work) for _ in range(args.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    burst_s = time.monotonic() - t1
    with lock:
        killed_mid_burst = state["killed"]
        if not killed_mid_burst:
            kill_now("after the burst (fewer acknowledgements than the kill point)")

    result = {
        "triaged": len(decisions),
        "triage_errors": len(errors),
        "triage_seconds": round(triage_s, 3),
        "feedback_sent": len(decisions),
        "threads": args.threads,
        "kill_after": kill_after,
        "killed_mid_burst": killed_mid_burst,
        "killed_at_acks": state["killed_at_acks"],
        "requests_started_before_kill": state["sent_before_kill"],
        "kill_seconds_into_burst": round(state["kill_time"], 3),
        "burst_seconds": round(burst_s, 3),
        "acknowledged": len(acks),
        "failures": failures,
        "acks": acks,
        "decision_ids": [d[0] for d in decisions],
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    fails = ", ".join(f"{k} {v}" for k, v in sorted(failures.items())) or "none"
    print(f"triaged {len(decisions)} messages in {triage_s:.1f} s; sent {len(decisions)} corrections "
          f"from {args.threads} threads; SIGKILL pid {args.kill_pid} at {state['killed_at_acks']} "
          f"acknowledged ({state['kill_reason']}); acknowledged in all {len(acks)}; "
          f"failed requests: {fails}")


def check(args):
    with open(args.acks) as f:
        burst_result = json.load(f)
    acks = burst_result["acks"]
    checks = []  # (name, ok, detail)

    if not os.path.exists(args.store):
        sys.exit(f"feedback_burst.py: error: the store {args.store} does not exist")
    db = sqlite3.connect(f"file:{urllib.parse.quote(os.path.abspath(args.store))}?mode=ro", uri=True,
                         timeout=30)
    try:
        rows = {}
        ids = [a["feedback_id"] for a in acks]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            q = f"SELECT id, decision_id, labels FROM feedback WHERE id IN ({','.join('?' * len(chunk))})"
            for fid, did, labels in db.execute(q, chunk):
                rows[fid] = (did, labels)
        # Every decision the burst sent a correction for (acknowledged or not).
        decision_ids = sorted(set(burst_result.get("decision_ids") or [a["decision_id"] for a in acks]))
        burst_ids = set()
        for i in range(0, len(decision_ids), 500):
            chunk = decision_ids[i:i + 500]
            q = f"SELECT id FROM feedback WHERE decision_id IN ({','.join('?' * len(chunk))})"
            burst_ids.update(r[0] for r in db.execute(q, chunk))
        total_feedback = db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
    finally:
        db.close()

    lost, wrong = [], []
    for a in acks:
        row = rows.get(a["feedback_id"])
        if row is None:
            lost.append(a["feedback_id"])
            continue
        did, labels = row
        try:
            stored_labels = json.loads(labels)
        except (TypeError, ValueError):
            stored_labels = labels
        if did != a["decision_id"] or (isinstance(stored_labels, dict) and stored_labels != a["labels"]):
            wrong.append(a["feedback_id"])
    found = len(acks) - len(lost)
    detail = f"acknowledged {len(acks)}, found {found}, lost {len(lost)}"
    if lost:
        detail += f" (first lost ids: {lost[:10]})"
    checks.append(("every acknowledged correction is in the store", not lost, detail))
    checks.append(("stored corrections match what was acknowledged", not wrong,
                   f"{len(wrong)} differ" + (f" (ids {wrong[:10]})" if wrong else "")))
    checks.append(("the service was SIGKILLed during the burst", bool(burst_result["killed_mid_burst"]),
                   f"killed at {burst_result['killed_at_acks']} acknowledged of "
                   f"{burst_result['feedback_sent']} sent"))
    checks.append(("some corrections were acknowledged before the kill", len(acks) > 0,
                   f"{len(acks)} acknowledged"))

    post = None
    if args.url:
        try:
            m = load_messages(args.corpus, 1, offset=11)
            decisions, errors = triage_all(args.url, args.triage_token, m, threads=1)
            if not decisions:
                raise RuntimeError(errors[0] if errors else "no decision")
            c = Client(args.url)
            body = json.dumps({"decision_id": decisions[0][0], "labels": {"label": decisions[0][1]}}).encode()
            status, data = c.post("/v1/feedback", body, {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {args.reviewer_token}"})
            c.close()
            ok = status == 200
            fid = json.loads(data).get("feedback_id") if ok else None
            max_ack = max(ids) if ids else 0
            ok = ok and fid is not None and fid > max_ack
            post = {"status": status, "feedback_id": fid}
            checks.append(("the restarted service triages and takes corrections", ok,
                           f"triage 200, feedback HTTP {status}, feedback_id {fid} "
                           f"(highest acknowledged before the kill: {max_ack})"))
        except Exception as e:  # noqa: BLE001 - reported as a FAIL line
            checks.append(("the restarted service triages and takes corrections", False, str(e)))

    result = {
        "acknowledged": len(acks),
        "found": found,
        "lost": len(lost),
        "lost_ids": lost[:100],
        "mismatched": len(wrong),
        "stored_for_burst_decisions": len(burst_ids),
        "stored_unacknowledged": len(burst_ids - set(ids)),
        "burst_decisions": len(decision_ids),
        "feedback_rows_total": total_feedback,
        "post_restart": post,
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in checks],
        "pass": all(ok for _, ok, _ in checks),
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for name, ok, d in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {name}: {d}")
    print(f"      (stored but never acknowledged, i.e. in flight at the kill: "
          f"{result['stored_unacknowledged']})")
    sys.exit(0 if result["pass"] else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("burst")
    b.add_argument("--url", required=True)
    b.add_argument("--triage-token", required=True)
    b.add_argument("--reviewer-token", required=True)
    b.add_argument("--corpus", required=True)
    b.add_argument("--kill-pid", type=int, required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--count", type=int, default=300)
    b.add_argument("--threads", type=int, default=8)
    b.add_argument("--kill-after", type=int, default=0)
    b.set_defaults(fn=burst)
    c = sub.add_parser("check")
    c.add_argument("--store", required=True)
    c.add_argument("--acks", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--url", default="")
    c.add_argument("--triage-token", default="")
    c.add_argument("--reviewer-token", default="")
    c.add_argument("--corpus", default="")
    c.set_defaults(fn=check)
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
