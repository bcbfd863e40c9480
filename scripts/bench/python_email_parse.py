#!/usr/bin/env python3
"""Python `email` baseline for scripts/bench-parse.sh (standard library only).

Usage: python3 scripts/bench/python_email_parse.py --mode fast|modern ROOT

Walks ROOT recursively (sorted), reads every file's bytes and parses it:

  fast    email.message_from_bytes (policy compat32); for every part whose
          content maintype is 'text': get_payload(decode=True) decoded with the
          part's charset (or us-ascii), errors='replace', latin-1 on
          LookupError; Subject, From, To, Cc, Date, Message-ID read as strings.
  modern  BytesParser(policy=email.policy.default).parsebytes; get_body(
          preferencelist=('plain','html')).get_content(); msg['subject'],
          ['from'], ['to'], ['date'] accessed (modern header parsing);
          iter_attachments() with get_filename() and get_content_type().

Prints one JSON line: {"messages": N, "bytes": B, "seconds": S, "errors": E}
where S covers only the walk + read + parse loop, and E is the number of
messages for which at least one exception was caught.
"""

import argparse
import email
import email.policy
import json
import os
import sys
import time
from email.parser import BytesParser

FAST_HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID")
_sink = 0  # keeps results alive so nothing is optimised into a no-op


def walk_sorted(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def text_parts(msg):
    """Yields every text/* part decoded: its charset (or us-ascii), errors replaced,
    latin-1 when the charset is unknown. Shared with triage_peers.py."""
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if payload is None:
                continue
            charset = part.get_content_charset() or "us-ascii"
            try:
                yield payload.decode(charset, errors="replace")
            except LookupError:
                yield payload.decode("latin-1")


def parse_fast(b):
    global _sink
    msg = email.message_from_bytes(b)
    for text in text_parts(msg):
        _sink += len(text)
    for h in FAST_HEADERS:
        v = msg.get(h)
        if v is not None:
            _sink += len(str(v))
    return 0


def parse_modern(b, parser):
    """Return the number of exceptions caught for this message."""
    global _sink
    errs = 0
    msg = parser.parsebytes(b)
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            content = body.get_content()
            _sink += len(content)
    except Exception:
        errs += 1
    for h in ("subject", "from", "to", "date"):
        try:
            v = msg[h]
            if v is not None:
                _sink += len(str(v))
        except Exception:
            errs += 1
    try:
        for att in msg.iter_attachments():
            fn = att.get_filename()
            ct = att.get_content_type()
            _sink += len(ct) + (len(fn) if fn else 0)
    except Exception:
        errs += 1
    return errs


def main():
    ap = argparse.ArgumentParser(description="Python email-module parse baseline")
    ap.add_argument("--mode", choices=("fast", "modern"), required=True)
    ap.add_argument("root", help="directory tree of .eml files")
    args = ap.parse_args()
    if not os.path.isdir(args.root):
        sys.exit("python_email_parse.py: error: %s is not a directory "
                 "(run scripts/fetch-corpus.sh first)" % args.root)

    parser = BytesParser(policy=email.policy.default)
    messages = nbytes = errors = 0
    t0 = time.perf_counter()
    for path in walk_sorted(args.root):
        with open(path, "rb") as f:
            b = f.read()
        messages += 1
        nbytes += len(b)
        try:
            if args.mode == "fast":
                e = parse_fast(b)
            else:
                e = parse_modern(b, parser)
        except Exception:
            e = 1
        if e:
            errors += 1
    seconds = time.perf_counter() - t0
    print(json.dumps({"messages": messages, "bytes": nbytes,
                      "seconds": round(seconds, 6), "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
