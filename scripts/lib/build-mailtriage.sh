# Sourced by scripts/bench-*.sh (expects to be at the repo root, with set -euo pipefail).
# Sets MAILTRIAGE to the binary to benchmark. If MAILTRIAGE_BIN is set, that
# binary is used as is (no build); otherwise builds the release CLI with cargo.

build_mailtriage() {
  if [ -n "${MAILTRIAGE_BIN:-}" ]; then
    [ -x "$MAILTRIAGE_BIN" ] || { echo "error: MAILTRIAGE_BIN=$MAILTRIAGE_BIN is not an executable file" >&2; exit 1; }
    MAILTRIAGE="$MAILTRIAGE_BIN"
    echo "using MAILTRIAGE_BIN=$MAILTRIAGE (no build)"
    check_phone_metadata
    return 0
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found: install Rust (https://rustup.rs, or apt-get install -y cargo)," \
         "or set MAILTRIAGE_BIN to a built mailtriage binary" >&2
    exit 1
  fi
  echo "building: cargo build --release -p mailtriage-cli"
  if ! cargo build --release -p mailtriage-cli; then
    echo "error: 'cargo build --release -p mailtriage-cli' failed (see above); fix the build and re-run" >&2
    exit 1
  fi
  MAILTRIAGE="target/release/mailtriage"
  [ -x "$MAILTRIAGE" ] || { echo "error: build succeeded but $MAILTRIAGE does not exist" >&2; exit 1; }
  check_phone_metadata
}

# A build whose build.rs could not split phonenumber's metadata says so at start, and spends
# 0.15 s of every process loading the whole database: a benchmark of it would measure that.
check_phone_metadata() {
  local said
  said="$("$MAILTRIAGE" redact --text "x" 2>&1 >/dev/null || true)"
  if [[ "$said" == *"metadata unsplit"* ]]; then
    echo "error: $MAILTRIAGE holds phonenumber's metadata unsplit (see the build's warning):" \
         "its figures would include 0.15 s of loading per process; fix the build and re-run" >&2
    exit 1
  fi
}
