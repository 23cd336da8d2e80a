#!/usr/bin/env bash
# Set up everything on a fresh Debian machine (first run only), then start musicdesk.
# Usage: ./run.sh [musicdesk arguments]   (no arguments: the bundled example)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
bash "$ROOT/packaging/setup.sh"
exec "$ROOT/.venv/bin/musicdesk" "$@"
