#!/usr/bin/env bash
# tokio's own integration tests and example programs against tickslab, by the rename alone.
# Usage: tokio-compat/run.sh [--mode each|one] [--filter REGEX] [--no-examples] [--no-run]
# Writes tokio-compat/REPORT.md and prints the rates; see tokio-compat/README.md.
set -euo pipefail
exec python3 "$(dirname "$0")/harness.py" "$@"
