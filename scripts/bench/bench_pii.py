#!/usr/bin/env python3
"""Driver of scripts/bench-pii.sh: PII detection of `mailtriage redact` against Microsoft
Presidio on the labelled dev set of shared/pii (standard library only).

mailtriage is run as whole processes on the records' `text` fields (ids and texts only, never
the gold spans): one pass over the set, whose findings are scored, and a stream of the set
repeated --stream-repeat times, whose speed is the throughput figure (one pass of 0.23 MB is
mostly process start-up); each with all cores and with --threads 1 (the per-core figure),
median of --runs. Findings are converted to the scorer's predictions (code point offsets;
types outside the scorer's ten dropped) and scored with shared/pii/score.py (imported; its
printed table is parsed if it cannot be). Presidio (scripts/bench/presidio_run.py, run with
the venv's interpreter) is timed in process, one core, model loading excluded, and scored the
same way. Prints a table with the differences, speed ratios and the issue's acceptance
thresholds, writes target/bench-pii.json. Exits 1 if a contender failed to run.

--selftest checks the conversion and scoring with findings made from the gold spans (and a
fake `mailtriage` that answers the redact interface with them): every F1 must come out 1.0.
"""
import argparse
import ast
import collections
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

CANON = ["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE",
         "IP_ADDRESS", "URL", "LOCATION", "DATE_TIME"]
# Presidio's entity names onto ours (its spaCy mapping already turns GPE/LOC/FAC into LOCATION
# and DATE/TIME into DATE_TIME; the raw labels are here in case a configuration passes them).
PRESIDIO_MAP = dict({t: t for t in CANON}, GPE="LOCATION", LOC="LOCATION", FAC="LOCATION",
                    DATE="DATE_TIME", TIME="DATE_TIME", PER="PERSON")
STRICT_TYPES = ["EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS"]
WORK = "target/bench-pii"


# ---------------------------------------------------------------- data and scoring

def load_gold(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_input(records, path, repeat=1):
    """The records as the tool sees them: id and text only."""
    lines = "".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n"
                    for r in records)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(repeat):
            f.write(lines)


class Scorer:
    """shared/pii/score.py: its score() when importable, else its printed table parsed."""

    def __init__(self, path, force_subprocess=False):
        self.path = path
        self.module = None
        self.how = "subprocess"
        if not force_subprocess:
            try:
                spec = importlib.util.spec_from_file_location("pii_score", path)
                mod = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(mod)
                if callable(getattr(mod, "score", None)):
                    self.module, self.how = mod, "imported"
            except Exception as e:  # noqa: BLE001 - any import failure means: use its CLI
                print(f"note: could not import {path} ({e}); parsing its output instead")

    def score(self, gold_path, pred_path):
        if self.module:
            return self.module.score(gold_path, pred_path)
        out = subprocess.run([sys.executable, self.path, gold_path, pred_path],
                             check=True, capture_output=True, text=True).stdout
        return parse_score_table(out)


ROW = re.compile(r"^\|\s*\**([A-Z_]+)\**\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|" + r"\s*([0-9.]+)\s*\|" * 6 + r"\s*$")


def parse_score_table(text):
    """score.py's markdown table (and its closing line) back into score()'s dict."""
    per_type = {}
    for line in text.splitlines():
        m = ROW.match(line.strip())
        if m:
            v = [float(x) for x in m.groups()[3:]]
            per_type[m.group(1)] = {"gold": int(m.group(2)), "pred": int(m.group(3)),
                                    "exact": {"p": v[0], "r": v[1], "f1": v[2]},
                                    "overlap": {"p": v[3], "r": v[4], "f1": v[5]}}
    if "OVERALL" not in per_type:
        raise ValueError("no OVERALL row in score.py's output:\n" + text[-2000:])
    res = {"per_type": per_type, "ignored_pred_types": {}, "fp_on_negative_records": None,
           "negative_records": None, "missing_prediction_ids": None}
    m = re.search(r"on the (\d+) records with no gold span: (\d+); dropped \(non-canonical\) "
                  r"predicted types: (.*); records without a prediction line: (\d+)", text)
    if m:
        res["negative_records"], res["fp_on_negative_records"] = int(m.group(1)), int(m.group(2))
        res["ignored_pred_types"] = {} if m.group(3) == "none" else ast.literal_eval(m.group(3))
        res["missing_prediction_ids"] = int(m.group(4))
    return res


def b2c(text, b):
    return len(text.encode("utf-8")[:b].decode("utf-8", errors="ignore"))


def findings_to_preds(findings_path, gold, pred_path):
    """mailtriage FINDINGS.jsonl -> scorer predictions (code point offsets, our ten types).
    Returns the checks made on the way."""
    texts = {r["id"]: r["text"] for r in gold}
    spans = {}
    dropped = collections.Counter()
    unknown_ids, bad_spans, offset_mismatch, lines = 0, 0, 0, 0
    examples = []
    with open(findings_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            lines += 1
            rec = json.loads(line)
            rid = rec["id"]
            if rid not in texts:
                unknown_ids += 1
                continue
            text = texts[rid]
            out = spans.setdefault(rid, [])
            for fd in rec.get("findings", []):
                t = fd.get("type")
                if t not in CANON:
                    dropped[str(t)] += 1
                    continue
                st, en = fd.get("start"), fd.get("end")
                if not (isinstance(st, int) and isinstance(en, int) and 0 <= st < en <= len(text)):
                    bad_spans += 1
                    if len(examples) < 3:
                        examples.append(f"{rid}: bad span {fd}")
                    continue
                bs, be = fd.get("bstart"), fd.get("bend")
                if isinstance(bs, int) and isinstance(be, int) and (b2c(text, bs), b2c(text, be)) != (st, en):
                    offset_mismatch += 1
                    if len(examples) < 3:
                        examples.append(f"{rid}: {t} start..end {st}..{en}, but bstart..bend {bs}..{be} are "
                                        f"code points {b2c(text, bs)}..{b2c(text, be)}")
                out.append({"start": st, "end": en, "type": t, "score": fd.get("score")})
    with open(pred_path, "w", encoding="utf-8") as f:
        for r in gold:
            f.write(json.dumps({"id": r["id"], "spans": spans.get(r["id"], [])}) + "\n")
    return {"findings_lines": lines, "records_without_findings_line": sum(1 for r in gold if r["id"] not in spans),
            "unknown_ids": unknown_ids, "dropped_types": dict(dropped), "bad_spans": bad_spans,
            "byte_codepoint_mismatch": offset_mismatch, "examples": examples}


def presidio_to_preds(raw_path, gold, pred_path):
    """presidio_run.py's predictions (Presidio's types) -> ours; other types dropped, counted."""
    raw = {}
    with open(raw_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                raw[r["id"]] = r["spans"]
    dropped = collections.Counter()
    with open(pred_path, "w", encoding="utf-8") as f:
        for g in gold:
            spans = []
            for s in raw.get(g["id"], []):
                t = PRESIDIO_MAP.get(s["type"])
                if t is None:
                    dropped[s["type"]] += 1
                else:
                    spans.append(dict(s, type=t))
            f.write(json.dumps({"id": g["id"], "spans": spans}) + "\n")
    return {"dropped_types": dict(dropped)}


def findings_signature(path):
    sig = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                sig.setdefault(r["id"], set()).update(
                    (d.get("type"), d.get("start"), d.get("end")) for d in r.get("findings", []))
    return sig


# ---------------------------------------------------------------- mailtriage

class RunError(Exception):
    pass


def run_timed(cmd):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        tail = p.stderr.decode("utf-8", "replace")[-3000:].rstrip()
        raise RunError(f"`{' '.join(cmd)}` exited {p.returncode}" + (f":\n{tail}" if tail else " (no stderr)"))
    return seconds


def redact_cmd(binary, inp, out, findings, threads=None):
    cmd = [binary, "redact", "--input", f"jsonl:{inp}", "--text-field", "text",
           "--output", out, "--findings", findings, "-q"]
    return cmd + (["--threads", str(threads)] if threads is not None else [])


def run_mailtriage(binary, gold, data_path, scorer, runs, repeat, work):
    """Scores and speed of `mailtriage redact`; raises RunError when a run fails."""
    n, nbytes = len(gold), sum(len(r["text"].encode("utf-8")) for r in gold)
    inp, stream = f"{work}/input.jsonl", f"{work}/stream.jsonl"
    write_input(gold, inp)
    write_input(gold, stream, repeat)
    redacted, findings = f"{work}/mailtriage-redacted.jsonl", f"{work}/mailtriage-findings.jsonl"
    findings1 = f"{work}/mailtriage-findings-threads1.jsonl"
    s_red, s_find = f"{work}/stream-redacted.jsonl", f"{work}/stream-findings.jsonl"
    for p in (redacted, findings, findings1):  # never score a previous run's output
        if os.path.exists(p):
            os.unlink(p)
    times = collections.defaultdict(list)
    try:
        for _ in range(runs):
            times["pass_all"].append(run_timed(redact_cmd(binary, inp, redacted, findings)))
            times["pass_1"].append(run_timed(redact_cmd(binary, inp, f"{work}/redacted-threads1.jsonl", findings1, 1)))
            times["stream_all"].append(run_timed(redact_cmd(binary, stream, s_red, s_find)))
            times["stream_1"].append(run_timed(redact_cmd(binary, stream, s_red, s_find, 1)))
    finally:
        for p in (stream, s_red, s_find):
            if os.path.exists(p):
                os.unlink(p)

    # The redacted output: one line per record with its id and a text.
    with open(redacted, encoding="utf-8") as f:
        red = [json.loads(line) for line in f if line.strip()]
    red_ok = sum(1 for r in red if isinstance(r.get("text"), str) and "id" in r)
    preds = f"{work}/mailtriage-preds.jsonl"
    checks = findings_to_preds(findings, gold, preds)
    checks["redacted_lines"], checks["redacted_lines_with_id_and_text"] = len(red), red_ok
    checks["threads1_findings_identical"] = findings_signature(findings) == findings_signature(findings1)
    med = {k: statistics.median(v) for k, v in times.items()}
    cores = cpu_count()
    speed = {
        "pass_seconds_all_cores": med["pass_all"], "pass_seconds_threads1": med["pass_1"],
        "pass_mb_s_all_cores": nbytes / 1e6 / med["pass_all"], "pass_records_s_all_cores": n / med["pass_all"],
        "pass_mb_s_threads1": nbytes / 1e6 / med["pass_1"],
        "stream_repeat": repeat, "stream_bytes": nbytes * repeat, "stream_records": n * repeat,
        "stream_seconds_all_cores": med["stream_all"], "stream_seconds_threads1": med["stream_1"],
        "mb_s_all_cores": nbytes * repeat / 1e6 / med["stream_all"],
        "records_s_all_cores": n * repeat / med["stream_all"],
        "mb_s_per_core": nbytes * repeat / 1e6 / med["stream_1"],  # --threads 1: one thread
        "records_s_per_core": n * repeat / med["stream_1"],
        "mb_s_all_cores_per_core": nbytes * repeat / 1e6 / med["stream_all"] / cores,
        "runs": runs, "all_seconds": dict(times),
    }
    return {"name": "mailtriage redact", "cmd": " ".join(redact_cmd(binary, inp, redacted, findings)),
            "scores": scorer.score(data_path, preds), "speed": speed, "checks": checks}


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---------------------------------------------------------------- Presidio

def run_presidio(python, gold, data_path, scorer, model, work, tag):
    raw, preds = f"{work}/presidio-{tag}-raw.jsonl", f"{work}/presidio-{tag}-preds.jsonl"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [python, "scripts/bench/presidio_run.py", "--data", f"{work}/input.jsonl", "--out", raw, "--model", model]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RunError(f"`{' '.join(cmd)}` exited {p.returncode}:\n{p.stderr[-3000:].rstrip()}")
    info = json.loads(p.stdout.strip().splitlines()[-1])
    info.update(presidio_to_preds(raw, gold, preds))
    info["scores"] = scorer.score(data_path, preds)
    info["mb_s"] = info["text_bytes"] / 1e6 / info["analyze_seconds"]
    info["records_s"] = info["records"] / info["analyze_seconds"]
    info["cmd"] = " ".join(cmd)
    return info


# ---------------------------------------------------------------- report

def acceptance(mt, pr):
    """The issue's thresholds: (description, value shown, holds)."""
    out = []

    def add(desc, value, ok):
        out.append({"check": desc, "value": value, "pass": bool(ok)})

    na = "n/a: mailtriage did not run"
    pt = mt["scores"]["per_type"] if mt is not None else None
    f1 = pt["OVERALL"]["overlap"]["f1"] if pt else None
    add("overall overlap F1 >= 0.85", f"{f1:.3f}" if pt else na, pt and f1 >= 0.85)
    if pr is not None:
        want = pr["scores"]["per_type"]["OVERALL"]["overlap"]["f1"] + 0.15
        add(f"overall overlap F1 >= Presidio + 0.15 (= {want:.3f})", f"{f1:.3f}" if pt else na, pt and f1 >= want)
    else:
        add("overall overlap F1 >= Presidio + 0.15", "n/a: Presidio did not run", False)
    for t, rmin in [(t, 0.97) for t in STRICT_TYPES] + [("PHONE_NUMBER", 0.90)]:
        o = pt[t]["overlap"] if pt else None
        add(f"{t} recall >= {rmin:.2f} and precision >= 0.95 (overlap)",
            f"R {o['r']:.3f}, P {o['p']:.3f}" if o else na, o and o["r"] >= rmin and o["p"] >= 0.95)
    mbs = mt["speed"]["mb_s_per_core"] if mt is not None else None
    add("mailtriage MB/s per core >= 50 (stream, --threads 1)", f"{mbs:.1f}" if mt else na, mt and mbs >= 50)
    return out


def fmt_prf(o):
    return f"{o['p']:>6.3f}{o['r']:>7.3f}{o['f1']:>7.3f}" if o else f"{'-':>6}{'-':>7}{'-':>7}"


def print_report(meta, mt, mt_err, contenders, checks):
    print(f"\nPII detection on {meta['data']}: {meta['records']} records ({meta['negative_records']} with no "
          f"personal data), {meta['gold_spans']} gold spans, {meta['text_bytes'] / 1e6:.3f} MB of text; "
          f"machine: {meta['cores']} cores; scorer {meta['scorer']} ({meta['scorer_how']})")
    cols = [("mailtriage", mt)] + contenders
    for name, c in cols:
        if c is not None and name != "mailtriage":
            print(f"  column {name}: {c['name']}" + (f" [{c['model_note']}]" if c["spacy_model"] else ""))
    head = f"{'overlap match':<16}{'gold':>6}" + "".join(f" | {n[:20]:<20}" for n, _ in cols) + " | F1 diff"
    print("\n" + head)
    print(f"{'':<22}" + "".join(f" | {'P':>6}{'R':>7}{'F1':>7}" for _ in cols) + f" | mt-{cols[1][0][:8] if len(cols) > 1 else ''}")
    gold_pt = meta["gold_per_type"]

    def row(label, t, mode):
        cells, f1s = [], []
        for _, c in cols:
            o = c["scores"]["per_type"][t][mode] if c is not None else None
            cells.append(" | " + fmt_prf(o))
            f1s.append(o["f1"] if o else None)
        diff = f"{f1s[0] - f1s[1]:+.3f}" if len(f1s) > 1 and f1s[0] is not None and f1s[1] is not None else "-"
        print(f"{label:<16}{gold_pt[t]:>6}" + "".join(cells) + f" | {diff:>7}")

    for t in CANON:
        row(t, t, "overlap")
    row("OVERALL overlap", "OVERALL", "overlap")
    row("OVERALL exact", "OVERALL", "exact")
    negs = []
    for name, c in cols:
        if c is not None:
            s = c["scores"]
            negs.append(f"{name} {s.get('fp_on_negative_records')}")
    print(f"spans predicted on the {meta['negative_records']} records with no personal data: {', '.join(negs)}")

    print("\nspeed (MB = 10^6 bytes of the UTF-8 `text` fields):")
    if mt is not None:
        s = mt["speed"]
        print(f"  mailtriage, all {meta['cores']} cores: {s['mb_s_all_cores']:.1f} MB/s, {s['records_s_all_cores']:.0f} records/s "
              f"({s['mb_s_all_cores_per_core']:.1f} MB/s per core) on a stream of the set x{s['stream_repeat']} "
              f"({s['stream_bytes'] / 1e6:.1f} MB); one pass of the set {s['pass_seconds_all_cores'] * 1000:.0f} ms "
              f"= {s['pass_mb_s_all_cores']:.1f} MB/s, {s['pass_records_s_all_cores']:.0f} records/s, start-up included")
        print(f"  mailtriage, --threads 1:  {s['mb_s_per_core']:.1f} MB/s per core, {s['records_s_per_core']:.0f} records/s "
              f"on the stream; one pass {s['pass_seconds_threads1'] * 1000:.0f} ms = {s['pass_mb_s_threads1']:.1f} MB/s")
        print(f"  (whole processes, JSONL in, redacted JSONL and findings written; median of {s['runs']})")
    else:
        print("  mailtriage: FAILED (see the error below)")
    for name, c in contenders:
        if c is None:
            continue
        print(f"  {c['name']}: {c['mb_s']:.4f} MB/s, {c['records_s']:.1f} records/s (one core, in process, "
              f"one pass; engine and model load {c['load_seconds']:.1f} s not counted)")

    if mt is not None and contenders:
        print("\nratios (mailtriage / Presidio; F1 as a difference):")
        for name, c in contenders:
            if c is None:
                continue
            s, po, mo = mt["speed"], c["scores"]["per_type"]["OVERALL"], mt["scores"]["per_type"]["OVERALL"]
            print(f"  vs {c['name']}: speed {s['mb_s_all_cores'] / c['mb_s']:.0f}x all cores, "
                  f"{s['mb_s_per_core'] / c['mb_s']:.0f}x per core; overall overlap F1 "
                  f"{mo['overlap']['f1'] - po['overlap']['f1']:+.3f}, exact F1 {mo['exact']['f1'] - po['exact']['f1']:+.3f}")

    if mt is not None:
        c = mt["checks"]
        warn = []
        if c["dropped_types"]:
            warn.append(f"types outside the scorer's ten, dropped: {c['dropped_types']}")
        for k in ("records_without_findings_line", "unknown_ids", "bad_spans", "byte_codepoint_mismatch"):
            if c[k]:
                warn.append(f"{k.replace('_', ' ')}: {c[k]}")
        if c["redacted_lines"] != meta["records"] or c["redacted_lines_with_id_and_text"] != meta["records"]:
            warn.append(f"redacted output has {c['redacted_lines']} lines ({c['redacted_lines_with_id_and_text']} "
                        f"with id and text) for {meta['records']} records")
        if not c["threads1_findings_identical"]:
            warn.append("findings differ between all cores and --threads 1")
        print("\nmailtriage output checks: " + ("; ".join(warn) if warn else "all fine"))
        for e in c["examples"]:
            print(f"  e.g. {e}")

    print("\nacceptance thresholds (issue):")
    for ch in checks:
        print(f"  [{'PASS' if ch['pass'] else 'FAIL'}] {ch['check']}: {ch['value']}")
    if mt_err:
        print(f"\nerror: mailtriage side failed:\n{mt_err}")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="labelled JSONL (shared/pii/dev.jsonl)")
    ap.add_argument("--scorer", help="score.py (default: the one beside --data)")
    ap.add_argument("--bin", default="", help="the mailtriage binary")
    ap.add_argument("--bin-error", default="", help="why there is no binary (the build failed)")
    ap.add_argument("--python", default="", help="interpreter with presidio-analyzer ('' = skip Presidio)")
    ap.add_argument("--python-error", default="", help="why there is no Presidio interpreter")
    ap.add_argument("--spacy-model", default="auto", help="presidio_run.py --model: auto | none | NAME")
    ap.add_argument("--patterns-too", type=int, default=1, help="also run Presidio with patterns only (1/0)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--stream-repeat", type=int, default=100)
    ap.add_argument("--out", default="target/bench-pii.json")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    scorer_path = args.scorer or os.path.join(os.path.dirname(os.path.abspath(args.data)), "score.py")
    if not os.path.isfile(args.data):
        sys.exit(f"error: {args.data} not found (set PII_DATA or --data to the labelled dev.jsonl)")
    if not os.path.isfile(scorer_path):
        sys.exit(f"error: scorer {scorer_path} not found (pass --scorer)")
    if args.runs < 1 or args.stream_repeat < 1:
        sys.exit("error: --runs and --stream-repeat must be >= 1")
    os.makedirs(WORK, exist_ok=True)
    if args.selftest:
        return selftest(args.data, scorer_path)

    t0 = time.perf_counter()
    gold = load_gold(args.data)
    scorer = Scorer(scorer_path)
    meta = {"data": args.data, "scorer": scorer_path, "scorer_how": scorer.how, "records": len(gold),
            "negative_records": sum(1 for r in gold if not r["spans"]),
            "gold_spans": sum(len(r["spans"]) for r in gold),
            "gold_per_type": dict({t: sum(1 for r in gold for s in r["spans"] if s["type"] == t) for t in CANON},
                                  OVERALL=sum(len(r["spans"]) for r in gold)),
            "text_bytes": sum(len(r["text"].encode("utf-8")) for r in gold), "cores": cpu_count()}
    write_input(gold, f"{WORK}/input.jsonl")

    mt, mt_err = None, None
    if not args.bin:
        mt_err = args.bin_error or "no mailtriage binary given"
    else:
        print(f"mailtriage: {' '.join(redact_cmd(args.bin, WORK + '/input.jsonl', 'REDACTED', 'FINDINGS'))} "
              f"(runs {args.runs}, all cores and --threads 1, one pass and a stream x{args.stream_repeat})")
        sys.stdout.flush()
        try:
            mt = run_mailtriage(args.bin, gold, args.data, scorer, args.runs, args.stream_repeat, WORK)
        except (RunError, OSError, ValueError, KeyError) as e:
            mt_err = f"{type(e).__name__}: {e}" if not isinstance(e, RunError) else str(e)
    if mt_err:
        print(f"error: mailtriage side failed (Presidio still runs):\n{mt_err}", file=sys.stderr)
        sys.stderr.flush()

    contenders, pr_err = [], None
    if not args.python:
        pr_err = args.python_error or "no Presidio interpreter given"
    else:
        plan = [("presidio", args.spacy_model)]
        for tag, model in plan:
            print(f"presidio ({'patterns only' if model == 'none' else 'spaCy model: ' + model}): running on "
                  f"{len(gold)} records, one core ...")
            sys.stdout.flush()
            try:
                c = run_presidio(args.python, gold, args.data, scorer, model, WORK, tag)
            except (RunError, OSError, ValueError, KeyError) as e:
                pr_err = str(e)
                break
            print(f"  {c['name']}" + (f": {c['model_note']}" if c["spacy_model"] else "")
                  + f"; {c['analyze_seconds']:.1f} s")
            contenders.append((tag, c))
            if tag == "presidio" and c["spacy_model"] and args.patterns_too:
                plan.append(("patterns", "none"))
    if pr_err:
        print(f"error: Presidio side failed: {pr_err}", file=sys.stderr)

    pr = contenders[0][1] if contenders else None
    checks = acceptance(mt, pr)
    print_report(meta, mt, mt_err, contenders, checks)
    if pr_err:
        print(f"\nerror: Presidio side failed: {pr_err}")
    result = {"meta": meta, "mailtriage": mt, "mailtriage_error": mt_err,
              "presidio": pr, "presidio_patterns_only": dict(contenders).get("patterns"),
              "presidio_error": pr_err, "acceptance": checks,
              "all_acceptance_pass": all(c["pass"] for c in checks),
              "seconds": time.perf_counter() - t0}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2, default=list)
    print(f"\nwrote {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 1 if (mt_err or pr_err) else 0


# ---------------------------------------------------------------- self-test

FAKE_MAILTRIAGE = r'''#!/usr/bin/env python3
# Fake `mailtriage redact` for bench_pii.py --selftest: answers with the gold spans of GOLD.
import json, sys
GOLD = %r
a = sys.argv[1:]
if not a or a[0] != "redact":
    sys.exit("error: unrecognized subcommand")
opt = {a[i]: a[i + 1] for i in range(1, len(a) - 1) if a[i].startswith("--") and a[i] != "-q"}
gold = {}
for line in open(GOLD, encoding="utf-8"):
    r = json.loads(line)
    gold[r["id"]] = r["spans"]
inp = opt["--input"]
assert inp.startswith("jsonl:") and opt["--text-field"] == "text"
with open(inp[6:], encoding="utf-8") as f, open(opt["--output"], "w") as out, open(opt["--findings"], "w") as fd:
    for line in f:
        r = json.loads(line)
        text = r["text"]
        found = [dict(type=s["type"], start=s["start"], end=s["end"], bstart=s["bstart"], bend=s["bend"],
                      score=0.9, detector="gold") for s in gold[r["id"]]]
        found.append(dict(type="SECRET", start=0, end=1, bstart=0, bend=len(text[:1].encode()), score=0.5, detector="x"))
        for s in sorted(found, key=lambda s: -s["start"]):
            text = text[:s["start"]] + "[" + s["type"] + "]" + text[s["end"]:]
        out.write(json.dumps({"id": r["id"], "text": text}) + "\n")
        fd.write(json.dumps({"id": r["id"], "findings": found[::-1]}) + "\n")
'''


def selftest(data, scorer_path):
    work = f"{WORK}/selftest"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gold_all = load_gold(data)
    nonascii = [r for r in gold_all if r["spans"] and len(r["text"]) != len(r["text"].encode("utf-8"))]
    negative = [r for r in gold_all if not r["spans"]]
    plain = [r for r in gold_all if r["spans"] and r not in nonascii]
    sub = nonascii[:4] + negative[:2] + plain[:4]
    gold_path = f"{work}/gold.jsonl"
    with open(gold_path, "w", encoding="utf-8") as f:
        for r in sub:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    results = []

    def check(name, ok, detail=""):
        results.append(bool(ok))
        print(f"  [{'ok' if ok else 'FAILED'}] {name}" + (f": {detail}" if detail and not ok else ""))

    def perfect(res, mode):
        return all(v[mode]["f1"] == 1.0 for t, v in res["per_type"].items() if v["gold"])

    def write_findings(path, mutate=None):
        with open(path, "w", encoding="utf-8") as f:
            for r in sub:
                fs = [dict(type=s["type"], start=s["start"], end=s["end"], bstart=s["bstart"], bend=s["bend"],
                           score=0.9, detector="gold") for s in r["spans"]]
                fs += [dict(type="SECRET", start=0, end=2, bstart=0, bend=len(r["text"][:2].encode()), score=0.4,
                            detector="entropy"),
                       dict(type="CONFIDENTIAL", start=0, end=1, bstart=0, bend=len(r["text"][:1].encode()),
                            score=0.4, detector="marker")]
                fs.reverse()
                if mutate:
                    fs = mutate(r, fs)
                if fs is not None:
                    f.write(json.dumps({"id": r["id"], "findings": fs}) + "\n")

    print(f"selftest on {len(sub)} records of {data} ({len(nonascii[:4])} with non-ASCII text, "
          f"{len(negative[:2])} with no PII), scorer {scorer_path}")
    imported, parsed = Scorer(scorer_path), Scorer(scorer_path, force_subprocess=True)
    check("score.py imports", imported.how == "imported")

    fpath, ppath = f"{work}/findings.jsonl", f"{work}/preds.jsonl"
    write_findings(fpath)
    c = findings_to_preds(fpath, sub, ppath)
    n_sub = len(sub)
    check("SECRET/CONFIDENTIAL dropped and counted", c["dropped_types"] == {"SECRET": n_sub, "CONFIDENTIAL": n_sub},
          c["dropped_types"])
    check("byte and code point offsets agree", c["byte_codepoint_mismatch"] == 0 and c["bad_spans"] == 0, c)
    res = imported.score(gold_path, ppath)
    check("gold findings score exact F1 1.0 on every type (imported scorer)", perfect(res, "exact"),
          {t: v["exact"] for t, v in res["per_type"].items()})
    check("gold findings score overlap F1 1.0 (imported scorer)", perfect(res, "overlap"))
    check("nothing predicted on no-PII records", res["fp_on_negative_records"] == 0)
    res2 = parsed.score(gold_path, ppath)
    same = all(abs(res["per_type"][t][m][k] - res2["per_type"][t][m][k]) < 6e-4 and
               res["per_type"][t]["pred"] == res2["per_type"][t]["pred"]
               for t in res["per_type"] for m in ("exact", "overlap") for k in ("p", "r", "f1"))
    check("score.py's printed table parses to the same figures", same and res2["missing_prediction_ids"] == 0)

    def shift(r, fs):
        for d in fs:
            if d["type"] in CANON:
                d["start"] += 1
                d["bstart"] = len(r["text"][:d["start"]].encode())
                break
        return fs
    write_findings(fpath, shift)
    findings_to_preds(fpath, sub, ppath)
    res = imported.score(gold_path, ppath)
    o = res["per_type"]["OVERALL"]
    check("a span one code point short: exact F1 < 1, overlap F1 still 1", o["exact"]["f1"] < 1 and o["overlap"]["f1"] == 1)

    def bytes_as_cp(r, fs):  # a tool that puts byte offsets in start/end
        return [dict(d, start=d["bstart"], end=d["bend"]) for d in fs]
    write_findings(fpath, bytes_as_cp)
    c = findings_to_preds(fpath, sub, ppath)
    check("byte offsets given as code points are flagged", c["byte_codepoint_mismatch"] + c["bad_spans"] > 0, c)

    write_findings(fpath, lambda r, fs: None if r is sub[0] else fs)
    c = findings_to_preds(fpath, sub, ppath)
    res = imported.score(gold_path, ppath)
    check("a record without a findings line: counted, recall < 1",
          c["records_without_findings_line"] == 1 and res["per_type"]["OVERALL"]["overlap"]["r"] < 1)

    # Presidio's types: ours pass, the rest (NRP, US_DRIVER_LICENSE, ...) are dropped.
    raw = f"{work}/presidio-raw.jsonl"
    with open(raw, "w", encoding="utf-8") as f:
        for r in sub:
            spans = [dict(start=s["start"], end=s["end"], type=s["type"], score=0.85) for s in r["spans"]]
            spans += [dict(start=0, end=3, type="NRP", score=0.85), dict(start=0, end=3, type="US_DRIVER_LICENSE", score=0.3)]
            f.write(json.dumps({"id": r["id"], "spans": spans}) + "\n")
    c = presidio_to_preds(raw, sub, ppath)
    res = imported.score(gold_path, ppath)
    check("Presidio mapping: our types kept, NRP/US_DRIVER_LICENSE dropped",
          perfect(res, "exact") and c["dropped_types"] == {"NRP": n_sub, "US_DRIVER_LICENSE": n_sub}, c)

    # The whole mailtriage path (input file, command line, timing, outputs) against a fake binary
    # that answers with the gold spans, on the full set.
    fake = f"{work}/fake-mailtriage"
    with open(fake, "w") as f:
        f.write(FAKE_MAILTRIAGE % os.path.abspath(data))
    os.chmod(fake, 0o755)
    mt = run_mailtriage(fake, gold_all, data, imported, 1, 2, work)
    o = mt["scores"]["per_type"]["OVERALL"]
    ck = mt["checks"]
    check(f"fake mailtriage on all {len(gold_all)} records: overall exact and overlap F1 1.0",
          o["exact"]["f1"] == 1.0 and o["overlap"]["f1"] == 1.0, o)
    check("fake mailtriage: outputs complete, SECRET dropped, offsets consistent",
          ck["redacted_lines_with_id_and_text"] == len(gold_all) and ck["dropped_types"] == {"SECRET": len(gold_all)}
          and ck["byte_codepoint_mismatch"] == 0 and ck["threads1_findings_identical"]
          and mt["speed"]["mb_s_per_core"] > 0, ck)
    checks = acceptance(mt, {"scores": {"per_type": {"OVERALL": {"overlap": {"f1": 0.5}}}}})
    check("acceptance: F1 thresholds hold on gold findings",
          all(c["pass"] for c in checks if "MB/s" not in c["check"]), checks)

    bad = f"{work}/failing-mailtriage"
    with open(bad, "w") as f:
        f.write("#!/bin/sh\necho \"error: unrecognized subcommand 'redact'\" >&2\nexit 2\n")
    os.chmod(bad, 0o755)
    try:
        run_mailtriage(bad, sub, gold_path, imported, 1, 1, work)
        check("a failing mailtriage is reported", False, "no error raised")
    except RunError as e:
        check("a failing mailtriage is reported with its stderr", "unrecognized subcommand" in str(e), e)

    passed, failed = sum(results), len(results) - sum(results)
    print(f"selftest: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
