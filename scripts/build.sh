#!/usr/bin/env bash
# Builds the browser app into dist/ and then the release binary, which embeds dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tools.sh
trunk build --release
# Compressed once here and served as they are (server/src/http/frontend.rs).
for file in dist/*.wasm dist/*.js dist/*.css; do
  gzip -9 --keep --force "$file"
  brotli --quality=11 --keep --force "$file"
done
cargo build --release --locked -p server
