#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document (/api/openapi.json) with schemathesis:
# every operation except the event streams (they never end), in its coverage, fuzzing
# and stateful phases; fails on any server error and on any answer whose status,
# media type or body the document does not allow. Runs the release binary
# (scripts/build.sh) on a fresh SQLite file, then on a fresh PostgreSQL database.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
if ! .venv-schema/bin/schemathesis --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv .venv-schema
  .venv-schema/bin/pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi
binary="${CARGO_TARGET_DIR:-target}/release/configurable-agents"
work=$(mktemp -d)
database="schemathesis_$$"
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS $database" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fuzz() {
  local url=$1
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$binary" dashboard --port "$port" --database-url "$url" 2>"$work/server.log" &
  server=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
  printf '\n==> schemathesis on %s\n' "${url%%:*}"
  .venv-schema/bin/schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-tag events --workers 1 --warnings off
  kill "$server" && wait "$server" 2>/dev/null || true
  server=
}

fuzz "sqlite://$work/fuzz.db"
psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE $database"
fuzz "postgres://postgres@127.0.0.1:5432/$database"
