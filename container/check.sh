#!/usr/bin/env bash
# Build the image and start it against a PostgreSQL: it must answer /readyz.
#
#   bash container/check.sh [DATABASE_URL]
#
# Uses podman, or buildah with podman, or docker, whichever is present (Debian: apt-get install
# podman); says plainly when none is. DATABASE_URL defaults to this machine's PostgreSQL on
# 127.0.0.1:5432 (a database `triage_container_check` is created there and dropped after). The
# container runs on the host's network, as the production user (uid 10001), with its
# configuration mounted read-only, as the README's Docker section describes.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=""
for candidate in podman docker; do
  if command -v "$candidate" >/dev/null 2>&1; then ENGINE="$candidate"; break; fi
done
if [ -z "$ENGINE" ]; then
  if command -v buildah >/dev/null 2>&1; then
    echo "container/check.sh: buildah can build the image but nothing here can run it;" \
      "install podman (apt-get install podman) to check that it starts" >&2
  else
    echo "container/check.sh: neither podman, buildah nor docker is installed;" \
      "install one (apt-get install podman) to build and start the image" >&2
  fi
  exit 2
fi

IMAGE="street-triage-api:check"
SERVER_URL="${1:-postgresql://postgres@127.0.0.1:5432/postgres}"
DATABASE="triage_container_check"
PORT="${TRIAGE_CHECK_PORT:-8765}"
WORK="$(mktemp -d)"
NAME="triage-check-$$"

cleanup() {
  "$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true
  psql "$SERVER_URL" -qc "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building $IMAGE with $ENGINE"
"$ENGINE" build -t "$IMAGE" .

echo "== configuration, as an operator would write it"
mkdir -p "$WORK/config"
python3 - "$WORK/config" <<'PY'
import sys, yaml, pathlib, shutil
config = pathlib.Path(sys.argv[1])
document = yaml.safe_load(pathlib.Path("api/config/demo-partnership.yaml").read_text())
(config / "partnership.yaml").write_text(yaml.safe_dump(document))
PY
.venv/bin/triage signing-key "$WORK/config/signing-keys.json" >/dev/null
.venv/bin/triage signing-key --log-keys "$WORK/config/signing-keys.json" >/dev/null 2>&1 || true
cp api/config/examples/issuers-entra-id.yaml "$WORK/config/trusted-issuers.yaml"
mkdir -p "$WORK/config/secrets" && echo "not-a-real-secret" > "$WORK/config/secrets/entra-client-secret"
# Readable by the container's user alone, as the README says.
chmod -R go-rwx "$WORK/config"
if [ "$(id -u)" -eq 0 ]; then chown -R 10001:10001 "$WORK/config"; fi

psql "$SERVER_URL" -qc "CREATE DATABASE $DATABASE" >/dev/null
DATABASE_URL="${SERVER_URL%/*}/$DATABASE"

echo "== starting it on port $PORT"
"$ENGINE" run -d --name "$NAME" --network host \
  -e TRIAGE_DATABASE_URL="$DATABASE_URL" \
  -e TRIAGE_PARTNERSHIP_FILE=/config/partnership.yaml \
  -e TRIAGE_SIGNING_KEYS_FILE=/config/signing-keys.json \
  -e TRIAGE_TRUSTED_ISSUERS=/config/trusted-issuers.yaml \
  -v "$WORK/config:/config:ro" \
  "$IMAGE" triage serve --host 127.0.0.1 --port "$PORT" --workers 2 >/dev/null

for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" 2>/dev/null; then
    echo
    echo "== the container answered /readyz"
    exit 0
  fi
  sleep 1
done
echo "container/check.sh: the container did not answer /readyz in 60 s; its log:" >&2
"$ENGINE" logs "$NAME" >&2 || true
exit 1
