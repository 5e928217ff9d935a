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
# Swagger UI for /api/docs, with its licence; outside the app's own files (and its size budget).
mkdir -p dist/api-docs
for file in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE; do
  cp docs-ui/node_modules/swagger-ui-dist/$file dist/api-docs/
done
cargo build --release --locked -p server
