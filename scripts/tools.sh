#!/usr/bin/env bash
# Installs what building the browser app needs, skipping what is already there:
# the wasm32 target, Trunk, wasm-bindgen-cli (the exact version in Cargo.lock) and
# wasm-opt (npm's binaryen; Debian's is too old), and Swagger UI's files for /api/docs
# (npm's swagger-ui-dist, docs-ui/package-lock.json). Nothing is downloaded outside the
# package registries, so Trunk runs offline (Trunk.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

TRUNK_VERSION='^0.21'   # 0.22 needs a newer rustc than this toolchain
BINARYEN_VERSION=132.0.0
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

if ! trunk --version 2>/dev/null | grep -q '^trunk 0\.21\.'; then
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
command -v brotli >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq brotli; }
if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  npm install -g --no-audit --no-fund "binaryen@$BINARYEN_VERSION"
fi
[ -f docs-ui/node_modules/swagger-ui-dist/swagger-ui-bundle.js ] || npm ci --prefix docs-ui --no-audit --no-fund
grep -q "wasm_bindgen = \"$WASM_BINDGEN_VERSION\"" Trunk.toml \
  || { echo "Trunk.toml's wasm_bindgen must be $WASM_BINDGEN_VERSION (Cargo.lock)" >&2; exit 1; }
