#!/usr/bin/env python3
"""Check a corpus built by build_corpus.py against the original .txt files.

Standard library only.  Usage:
    python3 scripts/corpus/check_corpus.py [--dest data/spamassassin] [--src DEST/cache/package/data]

mbox files are re-read with an independent, minimal mboxrd reader:
  * a line that starts with b"From " at the start of the file or right after a
    blank line (b"\\n") starts a new message; that separator line is dropped;
  * one '>' is stripped from every line matching ^>+From ;
  * the final blank line of each message (added by the writer) is dropped.
The result is compared byte-for-byte with the original message.  A message
that lacked a final newline is expected to differ by exactly that newline
(the writer appends one); it is counted separately.

Also checks that eml/, the Maildirs and the jsonl files (raw / raw_base64)
reproduce the originals exactly.  Exit 0 when everything matches, 1 otherwise.
"""

import argparse
import base64
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_corpus import GROUPS, LABELS, SPLITS  # noqa: E402

_QUOTED = re.compile(rb"^>+From ")


def read_mboxrd(path):
    """Yield message bytes from an mboxrd file using the rule in the docstring."""
    with open(path, "rb") as f:
        data = f.read()
    # Split on b"\n" only (bytes.splitlines() would also split on \r, \x0c, ...).
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:  # text after the final newline (normally none)
        lines.append(parts[-1])
    msg = None
    prev_blank = True
    for line in lines:
        if prev_blank and line.startswith(b"From "):
            if msg is not None:
                yield finish(msg)
            msg = []
            prev_blank = False
            continue
        if msg is None:
            raise ValueError("%s: data before the first 'From ' separator" % path)
        if _QUOTED.match(line):
            line = line[1:]
        msg.append(line)
        prev_blank = line == b"\n"
    if msg is not None:
        yield finish(msg)


def finish(lines):
    if lines and lines[-1] == b"\n":
        lines = lines[:-1]
    return b"".join(lines)


def originals(src, groups):
    for g in groups:
        for name in sorted(n for n in os.listdir(os.path.join(src, g)) if n.endswith(".txt")):
            with open(os.path.join(src, g, name), "rb") as f:
                yield g, name[:-4], f.read()


class Tally:
    def __init__(self, what):
        self.what = what
        self.exact = 0
        self.newline_only = []
        self.bad = []

    def compare(self, ident, got, want, allow_newline=False):
        if got == want:
            self.exact += 1
        elif allow_newline and not want.endswith(b"\n") and got == want + b"\n":
            self.newline_only.append(ident)
        else:
            self.bad.append(ident)

    def report(self):
        total = self.exact + len(self.newline_only) + len(self.bad)
        s = "  %-34s %5d/%d byte-exact" % (self.what, self.exact, total)
        if self.newline_only:
            s += ", %d differ only by the appended final newline (%s)" % (
                len(self.newline_only), ", ".join(self.newline_only))
        if self.bad:
            s += ", %d MISMATCH (first: %s)" % (len(self.bad), ", ".join(self.bad[:5]))
        print(s)
        return not self.bad


def check_mbox(path, expected, what):
    t = Tally(what)
    got = list(read_mboxrd(path))
    if len(got) != len(expected):
        print("  %-34s MISMATCH: %d messages read, %d expected" % (what, len(got), len(expected)))
        return False
    for (ident, want), g in zip(expected, got):
        t.compare(ident, g, want, allow_newline=True)
    return t.report()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", default="data/spamassassin")
    ap.add_argument("--src", default=None, help="default: DEST/cache/package/data")
    args = ap.parse_args()
    src = args.src or os.path.join(args.dest, "cache", "package", "data")
    dest = args.dest
    if not os.path.isdir(src):
        sys.exit("check_corpus.py: error: %s missing; run scripts/fetch-corpus.sh" % src)
    if not os.path.isfile(os.path.join(dest, ".complete")):
        sys.exit("check_corpus.py: error: %s/.complete missing; run scripts/fetch-corpus.sh" % dest)

    ok = True
    print("checking %s against %s" % (dest, src))
    for split in SPLITS:
        groups = [g for g, s, _l, _n in GROUPS if s == split]
        label_of = {g: l for g, _s, l, _n in GROUPS}
        orig = list(originals(src, groups))
        expected = [("%s/%s" % (g, stem), raw) for g, stem, raw in orig]

        ok &= check_mbox(os.path.join(dest, "%s.mbox" % split), expected, "%s.mbox" % split)
        for label in LABELS:
            exp_l = [(i, r) for (i, r), (g, _s, _r) in zip(expected, orig) if label_of[g] == label]
            ok &= check_mbox(os.path.join(dest, "by-label", "%s-%s.mbox" % (split, label)),
                             exp_l, "by-label/%s-%s.mbox" % (split, label))

        t_eml = Tally("eml/ (%s groups)" % split)
        t_md = Tally("%s.maildir/" % split)
        for g, stem, raw in orig:
            ident = "%s/%s" % (g, stem)
            with open(os.path.join(dest, "eml", g, stem + ".eml"), "rb") as f:
                t_eml.compare(ident, f.read(), raw)
            p = os.path.join(dest, "%s.maildir" % split, label_of[g], "cur",
                             stem + ".mailtriage:2,S")
            with open(p, "rb") as f:
                t_md.compare(ident, f.read(), raw)
        ok &= t_eml.report()
        ok &= t_md.report()

        t_js = Tally("%s.jsonl" % split)
        n_b64 = 0
        with open(os.path.join(dest, "%s.jsonl" % split), "rb") as f:
            jlines = f.read().split(b"\n")
        if jlines and jlines[-1] == b"":
            jlines.pop()
        if len(jlines) != len(orig):
            print("  %s.jsonl: MISMATCH: %d lines, %d expected" % (split, len(jlines), len(orig)))
            ok = False
        for line, (g, stem, raw) in zip(jlines, orig):
            rec = json.loads(line.decode("utf-8"))
            ident = "%s/%s" % (g, stem)
            if rec.get("id") != ident or rec.get("group") != g or rec.get("label") != label_of[g]:
                t_js.bad.append(ident)
                continue
            if "raw" in rec:
                got = rec["raw"].encode("utf-8")
            else:
                got = base64.b64decode(rec["raw_base64"], validate=True)
                n_b64 += 1
            t_js.compare(ident, got, raw)
        ok &= t_js.report()
        print("  %-34s %d records use raw_base64 (not valid UTF-8)" % ("", n_b64))

    print("check_corpus.py: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
