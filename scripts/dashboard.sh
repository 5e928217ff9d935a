#!/usr/bin/env bash
# One command for a new user: installs the toolchain if missing, builds, and runs the
# dashboard on http://127.0.0.1:7861 with its embedded SQLite database.
# Extra arguments go to `configurable-agents dashboard` (e.g. --port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec target/release/configurable-agents dashboard "$@"
