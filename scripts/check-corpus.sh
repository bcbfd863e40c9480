#!/usr/bin/env bash
# Parses the whole SpamAssassin corpus (6,046 messages) from its mbox, Maildir, JSONL and
# .eml forms, checks that every summary adds up and that the normalised records are the
# same whichever form they were read from, and that the single-part fast path of parsing
# gives mail-parser's full parse on every message.
# Usage: scripts/check-corpus.sh        (MAILTRIAGE_BIN to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/build-mailtriage.sh
build_mailtriage
scripts/fetch-corpus.sh >/dev/null

D=data/spamassassin
OUT=target/check-corpus
mkdir -p "$OUT"
parse() {
  local name=$1; shift
  "$MAILTRIAGE" parse "$@" --output "$OUT/$name.jsonl" --summary "$OUT/$name.summary.json" \
    --quarantine "$OUT/$name.quarantine.jsonl" --quiet
  python3 - "$OUT/$name.summary.json" "$name" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
name = sys.argv[2]
assert s["read"] == s["parsed"] + s["quarantined"], s
assert s["read"] == 6046, f"{name}: read {s['read']} messages, expected 6046"
print(f"{name:8} read {s['read']}, parsed {s['parsed']} ({s['with_defects']} with defects), "
      f"quarantined {s['quarantined']}: adds up")
PY
}
parse mbox    --input "$D/train.mbox" --input "$D/test.mbox"
parse maildir --input "maildir:$D/train.maildir" --input "maildir:$D/test.maildir"
parse jsonl   --input "$D/train.jsonl" --input "$D/test.jsonl"
parse eml     --input "eml:$D/eml"
python3 scripts/corpus/compare_forms.py \
  "eml=$OUT/eml.jsonl" "mbox=$OUT/mbox.jsonl" "maildir=$OUT/maildir.jsonl" "jsonl=$OUT/jsonl.jsonl"
# The single-part fast path of `parse` (crates/core/src/parse/single.rs) must give the same
# message as mail-parser's full parse on every message of the corpus.
MAILTRIAGE_CORPUS="$PWD/$D" cargo test -q -p mailtriage-core --lib parse::single -- --ignored --nocapture
