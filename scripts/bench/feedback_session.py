#!/usr/bin/env python3
"""Driver of scripts/feedback-session.sh: a scripted feedback session against `mailtriage serve`.

Trains a model on the SpamAssassin `train` split, serves it with the guardrail's validation set
(a sample of `train`, never `test`), and splits `test` (the newer, drifted mail) by a hash of
each id into a FEEDBACK half and an EVAL half. Then, all through the HTTP API:

  1. baseline: triage every EVAL message, accuracy against the true labels;
  2. good session: triage every FEEDBACK message and send its true label as feedback (a
     correction where the model was wrong, an acceptance where right); wait for the learner;
  3. after: triage EVAL again with the model now active; accuracy;
  4. poisoned burst: send feedback with the flipped (wrong) label for a sample of messages;
     wait for the learner; every candidate judged during the burst must be `rejected` and the
     active model must not change; triage EVAL once more.

Prints a summary, writes JSON (default target/feedback-session.json), and exits 1 when the
good session did not raise EVAL accuracy or the poisoned burst was promoted (or never judged).
Python 3 standard library only.
"""
import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time


def die(msg, code=2):
    print(f"feedback-session: error: {msg}", file=sys.stderr)
    sys.exit(code)


def log(msg):
    print(f"feedback-session: {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# Corpus


def load(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if "raw" in r:
                raw = r["raw"].encode("utf-8")
            elif "raw_base64" in r:
                raw = base64.b64decode(r["raw_base64"])
            else:
                die(f"{path}:{n}: record without raw or raw_base64")
            if r.get("label") not in ("spam", "ham"):
                die(f"{path}:{n}: label is {r.get('label')!r}, expected spam or ham")
            out.append({"id": r["id"], "raw": raw, "label": r["label"], "record": r})
    return out


def half(msg_id):
    """FEEDBACK or EVAL, by a hash of the id (deterministic, independent of file order)."""
    return "feedback" if hashlib.sha256(msg_id.encode()).digest()[0] % 2 == 0 else "eval"


def order(m):
    """The order feedback is sent in: by a hash of the id (a fixed shuffle; the files are
    grouped by label, and a stream of one label only would be an odd reviewer)."""
    return hashlib.sha256(b"order:" + m["id"].encode()).hexdigest()


FLIP = {"spam": "ham", "ham": "spam"}


# ---------------------------------------------------------------------------------------------
# HTTP


class Api:
    def __init__(self, host, port, timeout=60):
        self.host, self.port, self.timeout = host, port, timeout
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, headers=None, token=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(3):
            c = self._conn()
            try:
                c.request(method, path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                return r.status, data
            except (ConnectionError, http.client.HTTPException, socket.timeout, OSError):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError("unreachable")

    def json(self, method, path, obj=None, token=None, expect=200):
        body = None if obj is None else json.dumps(obj).encode()
        headers = {"Content-Type": "application/json"} if obj is not None else {}
        status, data = self.request(method, path, body, headers, token)
        if status != expect:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def triage(self, raw, token):
        status, data = self.request("POST", "/v1/triage", raw,
                                    {"Content-Type": "message/rfc822"}, token)
        if status != 200:
            return None, f"HTTP {status}: {data[:200]!r}"
        return json.loads(data), None

    def metrics(self):
        status, data = self.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"GET /metrics: HTTP {status}")
        return data.decode("utf-8", "replace")


def learning_events(api):
    """mailtriage_learning_events_total by event (held_out, learned, skipped, promoted, rejected)."""
    out = {}
    for m in re.finditer(r'^mailtriage_learning_events_total\{([^}]*)\}\s+([0-9.eE+-]+)$',
                         api.metrics(), re.M):
        ev = re.search(r'event="([^"]*)"', m.group(1))
        if ev:
            out[ev.group(1)] = out.get(ev.group(1), 0) + int(float(m.group(2)))
    return out


# ---------------------------------------------------------------------------------------------
# Steps


def head_label(decision):
    for h in decision["heads"]:
        if h["head"] == "label":
            return h
    raise RuntimeError(f"decision without a `label` head: {decision['heads']}")


def triage_all(api, token, msgs, workers):
    """Triage every message concurrently; returns (results in order, errors)."""
    def one(m):
        d, err = api.triage(m["raw"], token)
        return m, d, err
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, msgs))


def accuracy_pass(api, token, msgs, workers, name):
    t = time.perf_counter()
    results = triage_all(api, token, msgs, workers)
    right = answered = 0
    versions = {}
    errors = []
    tp = fp = fn = tn = 0
    for m, d, err in results:
        if d is None:
            errors.append({"id": m["id"], "error": err})
            continue
        answered += 1
        p = head_label(d)["label"]
        versions[d["model_version"]] = versions.get(d["model_version"], 0) + 1
        right += p == m["label"]
        tp += p == "spam" and m["label"] == "spam"
        fp += p == "spam" and m["label"] == "ham"
        fn += p == "ham" and m["label"] == "spam"
        tn += p == "ham" and m["label"] == "ham"
    secs = time.perf_counter() - t
    out = {
        "n": len(msgs), "answered": answered, "errors": len(errors),
        "error_samples": errors[:5],
        "accuracy": right / answered if answered else None,
        "wrong": answered - right,
        "confusion": {"spam_as_spam": tp, "ham_as_spam": fp, "spam_as_ham": fn, "ham_as_ham": tn},
        "model_versions": versions, "seconds": round(secs, 2),
    }
    log(f"{name}: accuracy {fmt(out['accuracy'])} on {answered} EVAL messages "
        f"({out['wrong']} wrong, {len(errors)} unanswered), model {', '.join(versions)}, "
        f"{secs:.1f}s")
    return out


def feedback_pass(api, token, msgs, labels_of, workers, name):
    """Triage every message (concurrently), then post feedback with labels_of(message) for
    each, one at a time in the order given: the learner takes feedback in arrival order, so a
    fixed order makes the session reproducible. Returns counts."""
    t = time.perf_counter()
    triaged = triage_all(api, token, msgs, workers)
    states, errors, versions = {}, [], {}
    model_right = 0
    for m, d, err in triaged:
        if d is None:
            errors.append({"id": m["id"], "error": err})
            continue
        versions[d["model_version"]] = versions.get(d["model_version"], 0) + 1
        model_right += head_label(d)["label"] == m["label"]
        status, data = api.request(
            "POST", "/v1/feedback",
            json.dumps({"decision_id": d["decision_id"],
                        "labels": {"label": labels_of(m)}}).encode(),
            {"Content-Type": "application/json"}, token)
        if status != 200:
            errors.append({"id": m["id"], "error": f"feedback HTTP {status}: {data[:200]!r}"})
            continue
        fb = json.loads(data)
        states[fb["state"]] = states.get(fb["state"], 0) + 1
    secs = time.perf_counter() - t
    posted = sum(states.values())
    out = {"n": len(msgs), "posted": posted, "states": states, "errors": len(errors),
           "error_samples": errors[:5], "model_versions_at_triage": versions,
           "triage_accuracy_vs_truth": model_right / len(msgs) if msgs else None,
           "seconds": round(secs, 2)}
    log(f"{name}: {posted} feedback posted ({', '.join(f'{k} {v}' for k, v in sorted(states.items()))}), "
        f"{len(errors)} errors, {secs:.1f}s")
    return out


def wait_learner(api, admin, posted_total, every, timeout, baseline_events):
    """Waits until the learner has taken every posted feedback and finished the evaluations
    they trigger: learning-event counters (from /metrics) account for all feedback and
    promoted + rejected equals learned // every (no hand-made rollback here), then the model
    count is stable. Returns (models document, events, waited seconds, caught_up)."""
    t0 = time.monotonic()
    last_count, stable_since = None, time.monotonic()
    caught_up = False
    while True:
        ev = learning_events(api)
        taken = sum(ev.get(k, 0) for k in ("held_out", "learned", "skipped"))
        judged = ev.get("promoted", 0) + ev.get("rejected", 0)
        expected_judged = ev.get("learned", 0) // every
        doc = api.json("GET", "/v1/models", token=admin)
        n = len(doc["models"])
        if n != last_count:
            last_count, stable_since = n, time.monotonic()
        caught_up = taken >= posted_total and judged >= expected_judged
        if caught_up and time.monotonic() - stable_since >= 1.0:
            return doc, ev, time.monotonic() - t0, True
        if time.monotonic() - t0 > timeout:
            log(f"warning: learner not caught up after {timeout}s "
                f"(taken {taken}/{posted_total}, judged {judged}/{expected_judged})")
            return doc, ev, time.monotonic() - t0, False
        time.sleep(0.5)


def fmt(x, digits=4):
    return "n/a" if x is None else f"{x:.{digits}f}"


def model_summary(m):
    met = m.get("metrics") or {}
    h, v = met.get("holdout") or {}, met.get("validation") or {}
    return {
        "version": m["version"], "status": m["status"], "parent": m.get("parent"),
        "outcome": met.get("outcome"), "feedback_upto": m.get("feedback_upto"),
        "holdout_n": h.get("n"), "holdout_candidate": h.get("candidate"),
        "holdout_active": h.get("active"),
        "validation_n": v.get("n"), "validation_candidate": v.get("candidate"),
        "validation_active": v.get("active"), "margin": met.get("margin"),
        "metrics": met,
    }


def print_models(title, models):
    log(title)
    if not models:
        print("    (none)")
        return
    print(f"    {'version':<24} {'status':<9} {'fb_upto':>7} {'hold n':>6} {'hold cand':>9} "
          f"{'hold act':>9} {'val cand':>9} {'val act':>9}")
    for s in models:
        print(f"    {s['version'][:24]:<24} {s['status']:<9} {str(s['feedback_upto']):>7} "
              f"{str(s['holdout_n']):>6} {fmt(s['holdout_candidate']):>9} "
              f"{fmt(s['holdout_active']):>9} {fmt(s['validation_candidate']):>9} "
              f"{fmt(s['validation_active']):>9}")


# ---------------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, what, **kw):
    try:
        return subprocess.run(cmd, check=True, **kw)
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip() if isinstance(e.stderr, bytes) else (e.stderr or "")
        die(f"{what} failed (exit {e.returncode}): {' '.join(cmd)}\n{err}", 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="the mailtriage binary")
    ap.add_argument("--corpus", default="data/spamassassin")
    ap.add_argument("--work", default="target/feedback-session", help="model, store, logs")
    ap.add_argument("--json", default="target/feedback-session.json")
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--learn-every", type=int, default=100)
    ap.add_argument("--margin", type=float, default=0.01)
    ap.add_argument("--holdout-share", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--validation-every", type=int, default=5,
                    help="the guardrail's validation set: every Nth record of train")
    ap.add_argument("--poison-source", choices=("feedback", "train"), default="feedback",
                    help="messages the poisoned burst flips: the FEEDBACK half again "
                         "(same fingerprints, opposite labels) or train records not in the "
                         "validation set")
    ap.add_argument("--poison-count", type=int, default=0,
                    help="messages in the burst; 0: enough for two evaluations "
                         "(2 x learn-every / (1 - holdout-share), rounded up, + 10%%)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--wait-timeout", type=float, default=180.0)
    ap.add_argument("--pid-file", default="", help="write serve's pid here (for the caller's trap)")
    args = ap.parse_args()

    os.makedirs(args.work, exist_ok=True)
    train_path = os.path.join(args.corpus, "train.jsonl")
    test_path = os.path.join(args.corpus, "test.jsonl")
    for p in (train_path, test_path):
        if not os.path.isfile(p):
            die(f"{p} not found: run scripts/fetch-corpus.sh first")

    train = load(train_path)
    test = load(test_path)
    feedback_msgs = [m for m in test if half(m["id"]) == "feedback"]
    eval_msgs = [m for m in test if half(m["id"]) == "eval"]
    log(f"corpus: train {len(train)}, test {len(test)} -> FEEDBACK {len(feedback_msgs)} "
        f"(spam {sum(m['label'] == 'spam' for m in feedback_msgs)}), EVAL {len(eval_msgs)} "
        f"(spam {sum(m['label'] == 'spam' for m in eval_msgs)})")

    # Validation set for the guardrail: every Nth train record, as JSONL (never test).
    validation_path = os.path.join(args.work, "validation.jsonl")
    val_idx = set(range(0, len(train), args.validation_every))
    with open(validation_path, "w", encoding="utf-8") as f:
        for i in sorted(val_idx):
            f.write(json.dumps(train[i]["record"]) + "\n")
    log(f"validation set: {len(val_idx)} train records (every {args.validation_every}th) "
        f"-> {validation_path}")

    # Model: trained on the other train records, so that the validation set measures the
    # candidates rather than recall of the training data.
    fit_path = os.path.join(args.work, "fit.jsonl")
    with open(fit_path, "w", encoding="utf-8") as f:
        for i, m in enumerate(train):
            if i not in val_idx:
                f.write(json.dumps(m["record"]) + "\n")
    model = os.path.join(args.work, "model.mt")
    t = time.perf_counter()
    run([args.bin, "train", "--input", fit_path, "--label-field", "label", "--out", model, "-q"],
        "training", capture_output=True)
    log(f"trained {model} on {len(train) - len(val_idx)} train records (the validation set left "
        f"out) in {time.perf_counter() - t:.1f}s")

    # Fresh store and tokens.
    db = os.path.join(args.work, "store.db")
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    store = f"sqlite:{db}"

    def token(role):
        r = run([args.bin, "token", "create", "--role", role, "--name", f"feedback-session-{role}",
                 "--store", store], f"token create --role {role}", capture_output=True)
        tok = r.stdout.decode().strip().splitlines()[-1].strip() if r.stdout.strip() else ""
        if not tok:
            die(f"token create --role {role} printed no token", 1)
        return tok

    admin, reviewer = token("admin"), token("reviewer")

    port = args.port or free_port()
    serve_log_path = os.path.join(args.work, "serve.log")
    serve_cmd = [args.bin, "serve", "--model", model, "--store", store,
                 "--listen", f"127.0.0.1:{port}", "--validation", validation_path,
                 "--learn-every", str(args.learn_every), "--margin", str(args.margin),
                 "--holdout-share", str(args.holdout_share), "--epochs", str(args.epochs)]
    serve_log = open(serve_log_path, "wb")
    log(f"starting: {' '.join(serve_cmd)} (log {serve_log_path})")
    serve = subprocess.Popen(serve_cmd, stdout=serve_log, stderr=subprocess.STDOUT)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{serve.pid}\n")

    def stop(*_):
        if serve.poll() is None:
            serve.terminate()
            try:
                serve.wait(10)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
        if args.pid_file and os.path.exists(args.pid_file):
            os.remove(args.pid_file)

    def on_signal(signum, _frame):
        stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return session(args, serve, serve_log_path, port, admin, reviewer, train, val_idx,
                       feedback_msgs, eval_msgs)
    finally:
        stop()
        serve_log.close()


def session(args, serve, serve_log_path, port, admin, reviewer, train, val_idx,
            feedback_msgs, eval_msgs):
    api = Api("127.0.0.1", port)
    t0 = time.monotonic()
    while True:
        if serve.poll() is not None:
            with open(serve_log_path, "rb") as f:
                tail = f.read()[-2000:].decode("utf-8", "replace")
            die(f"mailtriage serve exited with {serve.returncode} before it was ready:\n{tail}", 1)
        try:
            status, _ = api.request("GET", "/readyz")
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() - t0 > 180:
            die(f"mailtriage serve not ready after 180s (see {serve_log_path})", 1)
        time.sleep(0.3)
    log(f"serve ready on 127.0.0.1:{port} after {time.monotonic() - t0:.1f}s")

    doc0 = api.json("GET", "/v1/models", token=admin)
    v0 = doc0["active"]
    report = {
        "config": {k: getattr(args, k) for k in (
            "learn_every", "margin", "holdout_share", "epochs", "validation_every",
            "poison_source", "workers")},
        "split": {"train": len(train), "validation": len(val_idx),
                  "feedback": len(feedback_msgs), "eval": len(eval_msgs),
                  "how": "sha256(id)[0] even -> FEEDBACK, odd -> EVAL"},
        "initial_model": v0,
    }

    # 1. Baseline.
    before = accuracy_pass(api, reviewer, eval_msgs, args.workers, "baseline")
    report["before"] = before

    # 2. Good session: the true label for every FEEDBACK message.
    ev0 = learning_events(api)
    good = feedback_pass(api, reviewer, sorted(feedback_msgs, key=order),
                         lambda m: m["label"], args.workers, "good session")
    posted_total = sum(ev0.get(k, 0) for k in ("held_out", "learned", "skipped")) + good["posted"]
    doc1, ev1, waited, ok1 = wait_learner(api, admin, posted_total, args.learn_every,
                                          args.wait_timeout, ev0)
    good["learner_caught_up"] = ok1
    good["waited_seconds"] = round(waited, 1)
    good["learning_events"] = ev1
    known = {m["version"] for m in doc0["models"]}
    good_models = [model_summary(m) for m in doc1["models"] if m["version"] not in known]
    good["models"] = good_models
    good["promoted"] = sum(m["outcome"] == "promoted" for m in good_models)
    good["rejected"] = sum(m["outcome"] == "rejected" for m in good_models)
    good["active_before"], good["active_after"] = v0, doc1["active"]
    report["good_session"] = good
    print_models(f"good session: {len(good_models)} candidate(s) judged: {good['promoted']} "
                 f"promoted, {good['rejected']} rejected; active {v0} -> {doc1['active']}",
                 good_models)

    # 3. After.
    after = accuracy_pass(api, reviewer, eval_msgs, args.workers, "after good session")
    report["after"] = after

    # 4. Poisoned burst.
    if args.poison_source == "feedback":
        pool = feedback_msgs
    else:
        pool = [m for i, m in enumerate(train) if i not in val_idx]
    n = args.poison_count or math.ceil(
        1.1 * 2 * args.learn_every / max(1e-9, 1 - args.holdout_share))
    n = min(n, len(pool))
    # A deterministic sample, shuffled by a hash of the id (both labels mixed).
    poison_msgs = sorted(pool, key=order)[:n]
    pending = ev1.get("learned", 0) % args.learn_every
    log(f"poisoned burst: {n} {args.poison_source} messages with the flipped label "
        f"({sum(m['label'] == 'spam' for m in poison_msgs)} spam sent as ham, "
        f"{sum(m['label'] == 'ham' for m in poison_msgs)} ham as spam); "
        f"{pending} good corrections pending in the candidate")
    active_before_burst = doc1["active"]
    poison = feedback_pass(api, reviewer, poison_msgs, lambda m: FLIP[m["label"]], args.workers,
                           "poisoned burst")
    posted_total = sum(ev1.get(k, 0) for k in ("held_out", "learned", "skipped")) + poison["posted"]
    doc2, ev2, waited, ok2 = wait_learner(api, admin, posted_total, args.learn_every,
                                          args.wait_timeout, ev1)
    known = {m["version"] for m in doc1["models"]}
    poison_models = [model_summary(m) for m in doc2["models"] if m["version"] not in known]
    poison.update({
        "source": args.poison_source, "good_corrections_pending_at_start": pending,
        "learner_caught_up": ok2, "waited_seconds": round(waited, 1), "learning_events": ev2,
        "learned_in_burst": ev2.get("learned", 0) - ev1.get("learned", 0),
        "held_out_in_burst": ev2.get("held_out", 0) - ev1.get("held_out", 0),
        "skipped_in_burst": ev2.get("skipped", 0) - ev1.get("skipped", 0),
        "models": poison_models,
        "promoted": sum(m["outcome"] == "promoted" for m in poison_models),
        "rejected": sum(m["outcome"] == "rejected" for m in poison_models),
        "active_before": active_before_burst, "active_after": doc2["active"],
    })
    report["poisoned_burst"] = poison
    print_models(f"poisoned burst: {len(poison_models)} candidate(s) judged: "
                 f"{poison['promoted']} promoted, {poison['rejected']} rejected; active "
                 f"{active_before_burst} -> {doc2['active']}", poison_models)
    after_poison = accuracy_pass(api, reviewer, eval_msgs, args.workers, "after poisoned burst")
    report["after_poison"] = after_poison
    report["registry"] = [model_summary(m) for m in doc2["models"]]

    # 5. Verdict.
    failures = []
    if not ok1:
        failures.append("the learner did not catch up with the good session's feedback in time")
    if before["accuracy"] is None or after["accuracy"] is None or not after["accuracy"] > before["accuracy"]:
        failures.append(f"EVAL accuracy did not rise after the good session: "
                        f"{fmt(before['accuracy'])} -> {fmt(after['accuracy'])} "
                        f"({good['promoted']} promoted, {good['rejected']} rejected)")
    if poison["promoted"]:
        failures.append(f"{poison['promoted']} candidate(s) of the poisoned burst were promoted")
    if doc2["active"] != active_before_burst:
        failures.append(f"the active model changed during the poisoned burst: "
                        f"{active_before_burst} -> {doc2['active']}")
    if not poison_models:
        failures.append("no candidate was judged during the poisoned burst (the guardrail was "
                        "never exercised): send more, or lower --learn-every")
    if not ok2:
        failures.append("the learner did not catch up with the poisoned burst in time")
    if (after_poison["accuracy"] is not None and after["accuracy"] is not None
            and after_poison["accuracy"] < after["accuracy"]):
        failures.append(f"EVAL accuracy dropped after the poisoned burst: "
                        f"{fmt(after['accuracy'])} -> {fmt(after_poison['accuracy'])}")
    report["failures"] = failures
    report["pass"] = not failures

    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)

    print()
    print("feedback session summary")
    print(f"  split: FEEDBACK {len(feedback_msgs)}, EVAL {len(eval_msgs)} (test), validation "
          f"{len(val_idx)} (train sample)")
    print(f"  EVAL accuracy before : {fmt(before['accuracy'])}  model {v0}")
    print(f"  EVAL accuracy after  : {fmt(after['accuracy'])}  model {doc1['active']}  "
          f"({good['posted']} feedback: {good['states'].get('corrected', 0)} corrections, "
          f"{good['states'].get('accepted', 0)} acceptances; {good['promoted']} promoted, "
          f"{good['rejected']} rejected)")
    print(f"  poisoned burst       : {poison['posted']} flipped labels ({args.poison_source}); "
          f"{poison['promoted']} promoted, {poison['rejected']} rejected; active "
          f"{'unchanged' if doc2['active'] == active_before_burst else 'CHANGED to ' + doc2['active']}")
    print(f"  EVAL accuracy after poisoned burst: {fmt(after_poison['accuracy'])}  model "
          f"{doc2['active']}")
    print(f"  wrote {args.json}")
    if failures:
        print("FAIL:")
        for x in failures:
            print(f"  - {x}")
        return 1
    print("PASS: the good session raised accuracy; the poisoned burst was refused promotion")
    return 0


if __name__ == "__main__":
    sys.exit(main())
