#!/usr/bin/env python3
"""Compare `mailtriage parse` records of the same corpus read from different forms.

Usage: compare_forms.py NAME=records.jsonl NAME=records.jsonl ...

Drops what depends on the source (source, id, folder, fields), keys records by fingerprint,
and checks that every form has the same messages with identical records. mbox cannot record
that a message lacks its final line break (the writer adds one), so for such messages the
sizes and the body's final line break may differ; the check says how many. Exits 1 on any other difference.
"""
import json
import sys


def load(path):
    records = {}
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            for key in ("source", "id", "folder", "fields"):
                r.pop(key, None)
            records.setdefault(r["fingerprint"], []).append(r)
    return records


def without_sizes(r):
    """The record as far as the final line break can change it: sizes and the body's end."""
    r = dict(r)
    r.pop("size", None)
    r["body"] = dict(r["body"], text=r["body"]["text"].rstrip("\r\n"))
    r["attachments"] = [{k: v for k, v in a.items() if k != "size"} for a in r["attachments"]]
    return r


def main():
    forms = [arg.split("=", 1) for arg in sys.argv[1:]]
    loaded = [(name, load(path)) for name, path in forms]
    base_name, base = loaded[0]
    total = sum(len(v) for v in base.values())
    ok = True
    passed = failed = 0
    for name, other in loaded[1:]:
        n = sum(len(v) for v in other.values())
        if n != total or set(other) != set(base):
            print(f"{name}: {n} records vs {total} in {base_name}, "
                  f"{len(set(base) ^ set(other))} fingerprints differ")
            ok = False
            failed += 1
            continue
        size_only = 0
        differs = 0
        for fp, records in base.items():
            a, b = records, other[fp]
            if a == b:
                continue
            if [without_sizes(r) for r in a] == [without_sizes(r) for r in b]:
                size_only += 1
                continue
            ok = False
            differs += 1
            print(f"{name}: message {fp} differs from {base_name}")
        if differs:
            failed += 1
            continue
        passed += 1
        print(f"{name}: {n} records, identical to {base_name}"
              + (f" (differs only by the final line break mbox adds, for {size_only})" if size_only else ""))
    # The closing line CI reads: one check per form compared with the first.
    print(f"corpus: {passed} passed, {failed} failed")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
