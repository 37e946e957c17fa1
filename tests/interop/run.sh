#!/usr/bin/env bash
# Interop: fal's official clients — Python `fal-client` (PyPI) and JS
# `@fal-ai/client` (npm) — against the emulator, each pointed at it only
# through its own configuration (never a patched file).
#
# Installs both into .peers/ (git-ignored), builds and starts `fal-emulator
# --tls`, runs tests/interop/python_client.py and js_client.cjs, checks that
# no client sent its key to the CDN, and prints `interop: N passed, M failed`.
# Exits non-zero on any failure. Needs python3 (with venv) and node >= 18.
#
# FAL_CLIENT_PY_VERSION / FAL_CLIENT_JS_VERSION pick other client versions.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/interop"
PEERS="$ROOT/.peers"
PY_VERSION=${FAL_CLIENT_PY_VERSION:-1.0.3}
JS_VERSION=${FAL_CLIENT_JS_VERSION:-1.10.1}

say() { echo "interop: $*" >&2; }

# --- the peer clients -------------------------------------------------------
mkdir -p "$PEERS"
PY="$PEERS/py/bin/python"
if ! "$PY" -c "import fal_client, importlib.metadata as m; assert m.version('fal-client') == '$PY_VERSION'" 2>/dev/null; then
  say "installing fal-client==$PY_VERSION into .peers/py"
  python3 -m venv "$PEERS/py"
  "$PY" -m pip install --quiet --disable-pip-version-check "fal-client==$PY_VERSION"
fi
JS_DIR="$PEERS/js"
if [ "$(node -p "try { require('$JS_DIR/node_modules/@fal-ai/client/package.json').version } catch { '' }")" != "$JS_VERSION" ]; then
  say "installing @fal-ai/client@$JS_VERSION into .peers/js"
  mkdir -p "$JS_DIR"
  [ -f "$JS_DIR/package.json" ] || echo '{"name": "peers", "private": true}' > "$JS_DIR/package.json"
  (cd "$JS_DIR" && npm install --silent --no-audit --no-fund "@fal-ai/client@$JS_VERSION" >/dev/null)
fi

# --- the emulator -------------------------------------------------------------
say "building fal-emulator"
(cd "$ROOT" && cargo build --quiet -p fal-emulator --bin fal-emulator)
TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
WORK=$(mktemp -d)
EMULATOR_PID=""
cleanup() {
  if [ -n "$EMULATOR_PID" ]; then kill "$EMULATOR_PID" 2>/dev/null || true; wait "$EMULATOR_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A queue delay and a processing time long enough for both clients' polls to
# see IN_QUEUE / IN_PROGRESS and the log lines.
"$TARGET/debug/fal-emulator" --tls --key interop-key --queue-delay-ms 100 --processing-ms 400 \
  > "$WORK/ready" 2> "$WORK/emulator.log" &
EMULATOR_PID=$!
for _ in $(seq 1 300); do
  [ -s "$WORK/ready" ] && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$WORK/emulator.log" >&2; say "the emulator exited"; exit 1; }
  sleep 0.1
done
[ -s "$WORK/ready" ] || { say "the emulator printed no ready line"; exit 1; }
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/ready" "$1"; }
QUEUE=$(field queue); RUN=$(field run); REST=$(field rest); CDN=$(field cdn)
KEY=$(field key); PROXY=$(field proxy); CA=$(field ca_cert)
say "emulator ready at $QUEUE"

# --- the clients -------------------------------------------------------------
RESULTS="$WORK/results"
: > "$RESULTS"
# Python: hosts for the queue and run calls; the proxy for rest.fal.ai and
# v3.fal.media (fixed in the client); the emulator's CA for TLS.
env FAL_KEY="$KEY" EMULATOR_QUEUE="$QUEUE" FAL_QUEUE_RUN_HOST="${QUEUE#https://}" FAL_RUN_HOST="${RUN#https://}" \
  SSL_CERT_FILE="$CA" HTTPS_PROXY="$PROXY" https_proxy="$PROXY" NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
  "$PY" "$HERE/python_client.py" | tee -a "$RESULTS" || true
# JS: a request middleware maps fal's hosts; NODE_EXTRA_CA_CERTS trusts the CA.
LEAKS_BEFORE_JS=$(SSL_CERT_FILE="$CA" "$PY" -c 'import sys, httpx; print(httpx.get(sys.argv[1] + "/__emulator/stats").json()["key_leaks"])' "$QUEUE")
env FAL_KEY="$KEY" FAL_JS_CLIENT_DIR="$JS_DIR" NODE_EXTRA_CA_CERTS="$CA" \
  EMULATOR_QUEUE="$QUEUE" EMULATOR_RUN="$RUN" EMULATOR_REST="$REST" EMULATOR_CDN="$CDN" \
  node "$HERE/js_client.cjs" | tee -a "$RESULTS" || true

# --- what the emulator saw ------------------------------------------------------
SSL_CERT_FILE="$CA" "$PY" - "$QUEUE" "$LEAKS_BEFORE_JS" >> "$RESULTS" <<'PY' || true
import sys, httpx
stats = httpx.get(sys.argv[1] + "/__emulator/stats").json()
checks = {
    "the JS client sent no key to the CDN": stats["key_leaks"] == int(sys.argv[2]),
    "both clients uploaded": stats["upload_put"] >= 3 and stats["upload_initiate"] >= 3,
    "jobs created and completed": stats["jobs_completed"] >= 8,
}
for name, ok in checks.items():
    print(("PASS" if ok else "FAIL") + f" emulator {name}" + ("" if ok else f": {stats}"))
PY

PASSED=$(grep -c '^PASS ' "$RESULTS" || true)
FAILED=$(grep -c '^FAIL ' "$RESULTS" || true)
echo "interop: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
