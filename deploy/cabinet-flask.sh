#!/usr/bin/env bash
# Run `flask --app app ARGS…` in the checkout with the settings the services use: the environment
# file of the systemd units, read the way systemd reads it (values may hold spaces; no shell
# expansion). For one-off commands on a server, as the service user:
#
#   sudo -u ecabinet /opt/ecabinet/deploy/cabinet-flask.sh db upgrade
#   sudo -u ecabinet /opt/ecabinet/deploy/cabinet-flask.sh audit verify
#
# CABINET_ENV_FILE names another file (default /etc/ecabinet/ecabinet.env); CABINET_VENV another
# virtualenv (default: the checkout's .venv).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_DIR="$(dirname "$HERE")"
VENV="${CABINET_VENV:-$APP_DIR/.venv}"
ENV_FILE="${CABINET_ENV_FILE:-/etc/ecabinet/ecabinet.env}"

[ -r "$ENV_FILE" ] || { echo "cabinet-flask: cannot read $ENV_FILE (set CABINET_ENV_FILE)" >&2; exit 1; }
cd "$APP_DIR"
SETTINGS="$("$VENV/bin/python" "$HERE/backup_helper.py" settings --env-file "$ENV_FILE")"
eval "$SETTINGS"
exec "$VENV/bin/python" -m flask --app app "$@"
