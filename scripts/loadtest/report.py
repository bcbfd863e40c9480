#!/usr/bin/env python3
"""Summary of scripts/loadtest.sh: reads the run's files under DIR, writes the JSON summary
and prints a readable one. Exits 1 when the durability or audit checks failed (never on the
performance targets), 0 otherwise.

  report.py --dir target/loadtest --out target/loadtest.json [--concurrency "8 32 128"]
            [--duration 10] [--rspamd-status TEXT] [--audit-rc N]
Reads DIR/results/{mailtriage,rspamd}-c<N>.json (wrk lines from triage.lua's done()),
DIR/burst.json and DIR/check.json (feedback_burst.py), DIR/audit-verify.txt, DIR/info.json.
"""

import argparse
import json
import os
import sys

TARGET_RPS = 5000.0
TARGET_P99_MS = 20.0
TARGET_RATIO = 5.0


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ms(us):
    return None if us is None else round(us / 1000.0, 3)


def runs_of(d, name, concurrencies):
    out = []
    for c in concurrencies:
        r = load(os.path.join(d, "results", f"{name}-c{c}.json"))
        if r is None:
            continue
        ok = r["requests"] - r["non2xx"]
        out.append({
            "concurrency": c,
            "rps": r["rps"],
            "ok_rps": round(ok / r["duration_s"], 1) if r["duration_s"] else 0.0,
            "p50_ms": ms(r["p50_us"]),
            "p90_ms": ms(r["p90_us"]),
            "p99_ms": ms(r["p99_us"]),
            "max_ms": ms(r["max_us"]),
            "requests": r["requests"],
            "non2xx": r["non2xx"],
            "socket_errors": r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"],
            "duration_s": r["duration_s"],
        })
    return out


def best(runs, p99_limit=None):
    """The run with the most successful requests/s (within the p99 limit when given)."""
    ok = [r for r in runs if r["non2xx"] == 0 and r["socket_errors"] == 0
          and (p99_limit is None or r["p99_ms"] < p99_limit)]
    return max(ok, key=lambda r: r["ok_rps"]) if ok else None


def fmt(v, width, prec=1):
    if v is None:
        return "-".rjust(width)
    if isinstance(v, float):
        return f"{v:.{prec}f}".rjust(width)
    return str(v).rjust(width)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--concurrency", default="8 32 128")
    p.add_argument("--duration", default="10")
    p.add_argument("--rspamd-status", default="")
    p.add_argument("--audit-rc", type=int, default=None)
    a = p.parse_args()
    concurrencies = [int(c) for c in a.concurrency.split()]

    info = load(os.path.join(a.dir, "info.json")) or {}
    mt = runs_of(a.dir, "mailtriage", concurrencies)
    rs = runs_of(a.dir, "rspamd", concurrencies)
    burst = load(os.path.join(a.dir, "burst.json"))
    check = load(os.path.join(a.dir, "check.json"))
    try:
        with open(os.path.join(a.dir, "audit-verify.txt")) as f:
            audit_out = f.read().strip()
    except OSError:
        audit_out = ""

    try:
        with open(os.path.join(a.dir, "results", "warnings.txt")) as f:
            warnings = [line.strip() for line in f if line.strip()]
    except OSError:
        warnings = []

    mt_best = best(mt)
    mt_best_p99 = best(mt, TARGET_P99_MS)
    rs_best = best(rs)
    ratio = None
    if mt_best and rs_best and rs_best["ok_rps"] > 0:
        ratio = round(mt_best["ok_rps"] / rs_best["ok_rps"], 2)

    targets = {
        "rps_at_p99_under_20ms": {
            "want": f">= {TARGET_RPS:.0f} requests/s with p99 < {TARGET_P99_MS:.0f} ms",
            "got": mt_best_p99 and {"concurrency": mt_best_p99["concurrency"],
                                    "rps": mt_best_p99["ok_rps"], "p99_ms": mt_best_p99["p99_ms"]},
            "met": bool(mt_best_p99 and mt_best_p99["ok_rps"] >= TARGET_RPS),
        },
        "ratio_vs_rspamd": {
            "want": f">= {TARGET_RATIO:.0f}x rspamd /checkv2 (best vs best)",
            "got": ratio,
            "met": None if ratio is None else ratio >= TARGET_RATIO,
        },
    }
    durability_pass = bool(check and check.get("pass"))
    audit_pass = a.audit_rc == 0
    summary = {
        "info": info,
        "duration_s_per_run": float(a.duration),
        "mailtriage": mt,
        "rspamd": {"status": a.rspamd_status or ("ok" if rs else "not run"), "runs": rs},
        "best": {"mailtriage": mt_best, "mailtriage_p99_under_20ms": mt_best_p99, "rspamd": rs_best,
                 "ratio": ratio},
        "targets": targets,
        "warnings": warnings,
        "sigkill": None if burst is None else {k: v for k, v in burst.items()
                                                if k not in ("acks", "decision_ids")},
        "sigkill_check": check,
        "audit_verify": {"exit_code": a.audit_rc, "output": audit_out, "pass": audit_pass},
        "pass": durability_pass and audit_pass,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)

    print()
    print("== Summary")
    if info:
        print(f"   {info.get('cores', '?')} cores; wrk -t{info.get('wrk_threads', '?')}, {a.duration} s a run; "
              f"{info.get('corpus', '')}")
        if info.get("mailtriage"):
            print(f"   mailtriage: {info['mailtriage']}")
        if info.get("rspamd"):
            print(f"   rspamd:     {info['rspamd']}")
    print()
    head = (f"{'conc':>5} | {'mailtriage req/s':>16} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} | "
            f"{'rspamd req/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} | {'ratio':>6}")
    print(head)
    print("-" * len(head))
    by_c_rs = {r["concurrency"]: r for r in rs}
    by_c_mt = {r["concurrency"]: r for r in mt}
    if not mt and not rs:
        print("   (no load runs)")
    for c in concurrencies if (mt or rs) else []:
        m, r = by_c_mt.get(c), by_c_rs.get(c)
        rat = None
        if m and r and r["ok_rps"] > 0:
            rat = m["ok_rps"] / r["ok_rps"]
        print(f"{c:>5} | {fmt(m and m['rps'], 16)} {fmt(m and m['p50_ms'], 7, 2)} {fmt(m and m['p99_ms'], 7, 2)} "
              f"{fmt(m and m['non2xx'] + m['socket_errors'], 6)} | "
              f"{fmt(r and r['rps'], 12)} {fmt(r and r['p50_ms'], 7, 2)} {fmt(r and r['p99_ms'], 7, 2)} "
              f"{fmt(r and r['non2xx'] + r['socket_errors'], 6)} | "
              f"{(f'{rat:.1f}x' if rat is not None else '-'):>6}")
    print("   (errors: non-2xx responses plus socket errors; req/s counts every response)")
    if not rs:
        print(f"   rspamd: {a.rspamd_status or 'not run'}")
    for w in warnings:
        print(f"   {w}")
    print()
    if not mt:
        pass
    elif mt_best:
        print(f"best mailtriage: {mt_best['ok_rps']:.0f} req/s at concurrency {mt_best['concurrency']} "
              f"(p99 {mt_best['p99_ms']:.2f} ms)")
    else:
        print("best mailtriage: no error-free run")
    if rs_best:
        print(f"best rspamd:     {rs_best['ok_rps']:.0f} req/s at concurrency {rs_best['concurrency']} "
              f"(p99 {rs_best['p99_ms']:.2f} ms)")
    if ratio is not None:
        print(f"ratio (best vs best): {ratio:.1f}x")
    print()

    t = targets["rps_at_p99_under_20ms"]
    got = t["got"]
    if not mt:
        t["met"] = None
        print(f"target n/a    : {t['want']}: mailtriage was not measured")
    else:
        print(f"target {'MET   ' if t['met'] else 'NOT MET'}: {t['want']}: "
              + (f"{got['rps']:.0f} req/s, p99 {got['p99_ms']:.2f} ms at concurrency {got['concurrency']}"
                 if got else "no error-free run had p99 under 20 ms"))
    t = targets["ratio_vs_rspamd"]
    if t["met"] is None:
        print(f"target n/a    : {t['want']}: rspamd was not measured")
    else:
        print(f"target {'MET   ' if t['met'] else 'NOT MET'}: {t['want']}: {ratio:.1f}x")
    print("   (performance targets are reported, never fail the script)")
    print()
    if burst:
        print(f"SIGKILL test: {burst['triaged']} messages triaged; {burst['feedback_sent']} corrections from "
              f"{burst['threads']} threads; killed at {burst['killed_at_acks']} acknowledged; "
              f"failed requests {sum(burst['failures'].values())}")
    if check:
        print(f"SIGKILL check: acknowledged {check['acknowledged']}, found {check['found']}, "
              f"lost {check['lost']}, mismatched {check['mismatched']} "
              f"(stored but unacknowledged: {check['stored_unacknowledged']})")
        for c in check["checks"]:
            print(f"  {'PASS' if c['ok'] else 'FAIL'}: {c['name']}: {c['detail']}")
    else:
        print("FAIL: the SIGKILL check did not run")
    print(f"  {'PASS' if audit_pass else 'FAIL'}: audit verify (exit {a.audit_rc}): {audit_out or '(no output)'}")
    print()
    with open(a.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"durability and audit: {'PASS' if summary['pass'] else 'FAIL'}; summary written to {a.out}")
    sys.exit(0 if summary["pass"] else 1)


if __name__ == "__main__":
    main()
