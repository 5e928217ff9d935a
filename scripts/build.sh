#!/usr/bin/env bash
# Builds the browser app into dist/ and then the release binary, which embeds dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tools.sh
trunk build --release
cargo build --release --locked -p server
