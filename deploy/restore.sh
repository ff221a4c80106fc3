#!/usr/bin/env bash
# Restore an e-Cabinet backup made by deploy/backup.sh:
#   1. check every file against MANIFEST.sha256 (a damaged or altered backup is refused);
#   2. check the target: the database must be empty (no table) and the PKI folder empty or absent,
#      unless --force (then the database is emptied first and the PKI folder moved aside);
#   3. restore the database (pg_restore, or SQLite's backup API), then the file store and the PKI
#      folder;
#   4. verify the audit trail's hash chain (flask --app app audit verify) and report.
# Nothing is written before every check of 1 and 2 has passed.
#
# Usage: deploy/restore.sh [--env-file /etc/ecabinet/ecabinet.env] [--force] BACKUP_DIR
#
# The target is what the settings name (DATABASE_URL, CABINET_STORAGE_DIR, CABINET_PKI_DIR), read
# like backup.sh reads them. Stop the servers and the job worker first; run it as the service user
# (sudo -u ecabinet …) so that the restored files belong to it. A PostgreSQL target database must
# exist (createdb -O ecabinet ecabinet). Exit status 0: restored and the audit chain is intact.
set -euo pipefail
umask 027

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_DIR="$(dirname "$HERE")"
VENV="${CABINET_VENV:-$APP_DIR/.venv}"
PYTHON="$VENV/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
HELPER="$HERE/backup_helper.py"

usage() { echo "usage: $0 [--env-file FILE] [--force] BACKUP_DIR" >&2; exit 2; }
die() { echo "restore: $*" >&2; exit 1; }
say() { echo "== $*"; }

ENV_FILE=""
FORCE=0
BACKUP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) [ $# -ge 2 ] || usage; ENV_FILE="$2"; shift 2 ;;
    --env-file=*) ENV_FILE="${1#*=}"; shift ;;
    --force) FORCE=1; shift ;;
    -h|--help) usage ;;
    -*) echo "restore: unknown option $1" >&2; usage ;;
    *) [ -z "$BACKUP" ] || usage; BACKUP="$1"; shift ;;
  esac
done
[ -n "$BACKUP" ] || usage
[ -d "$BACKUP" ] || die "no backup folder $BACKUP"
[ -z "$ENV_FILE" ] || [ -r "$ENV_FILE" ] || die "cannot read $ENV_FILE"
BACKUP="$(cd "$BACKUP" && pwd)"
case "$BACKUP" in *.partial) die "$BACKUP is an unfinished backup (its backup.sh did not complete)" ;; esac

cd "$APP_DIR"
SETTINGS="$("$PYTHON" "$HELPER" settings ${ENV_FILE:+--env-file "$ENV_FILE"})" || die "could not read the settings"
eval "$SETTINGS"
if [ -n "$PG_PASSWORD" ]; then export PGPASSWORD="$PG_PASSWORD"; fi

# --- 1. The backup is whole and unaltered --------------------------------------------------------
say "Checking $BACKUP against its manifest"
if ! "$PYTHON" "$HELPER" verify-manifest "$BACKUP"; then
  die "refused: the backup does not match MANIFEST.sha256 (see above); nothing was changed"
fi
info() { sed -n "s/^$1=//p" "$BACKUP/backup.info" | head -n 1; }
[ "$(info format)" = 1 ] || die "unknown backup format '$(info format)'"
BACKUP_KIND="$(info database)"
DB_FILE="$(info database_file)"
echo "   made $(info created) on $(info host): $BACKUP_KIND database at revision $(info alembic_revision)," \
     "$(info storage_blobs) stored file(s), PKI: $(info pki)"
[ "$BACKUP_KIND" = "$DB_KIND" ] \
  || die "the backup holds a $BACKUP_KIND database, but DATABASE_URL names a $DB_KIND one ($DB_DISPLAY)"

# --- 2. The target is empty (or --force) ---------------------------------------------------------
say "Target database: $DB_DISPLAY"
STATE="$("$PYTHON" "$HELPER" db-state)" || die "cannot inspect the target database (does it exist?)"
echo "   $STATE"
if [ "$STATE" != empty ] && [ "$STATE" != missing ] && [ "$FORCE" != 1 ]; then
  die "refused: the target database is not empty ($STATE). Restore into an empty database, or pass --force to replace its content; nothing was changed"
fi
if [ "$DB_KIND" = postgresql ]; then
  command -v pg_restore >/dev/null || die "pg_restore not found: install postgresql-client"
fi

PKI_ASIDE=""
if [ "$(info pki)" = yes ] && [ -d "$PKI_DIR" ] && [ -n "$(ls -A "$PKI_DIR")" ]; then
  [ "$FORCE" = 1 ] || die "refused: the PKI folder $PKI_DIR is not empty. Move it away, or pass --force (it is then kept as $PKI_DIR.before-restore-…); nothing was changed"
  PKI_ASIDE="$PKI_DIR.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
fi

# --- 3. Restore ------------------------------------------------------------------------------------
if [ -n "$PKI_ASIDE" ]; then
  # First, while nothing else has changed: a PKI folder that cannot be moved stops everything.
  mv "$PKI_DIR" "$PKI_ASIDE" || die "could not move $PKI_DIR aside (a mount point? empty it by hand); nothing was changed"
  echo "   the previous PKI folder is kept as $PKI_ASIDE"
fi
if [ "$STATE" != empty ] && [ "$STATE" != missing ]; then
  say "Emptying the target database (--force)"
  "$PYTHON" "$HELPER" db-clear
fi
say "Restoring the database"
if [ "$DB_KIND" = postgresql ]; then
  # One transaction: a failure leaves the database as empty as it was. Objects belong to the
  # role of DATABASE_URL, whatever role owned them where the backup was made.
  pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
    --dbname="$PG_URL" "$BACKUP/$DB_FILE" || die "pg_restore failed"
else
  "$PYTHON" "$HELPER" sqlite-restore "$BACKUP/$DB_FILE" "$SQLITE_PATH" || die "the SQLite restore failed"
fi

say "Restoring the file store into $STORAGE_DIR"
mkdir -p "$STORAGE_DIR"
# Blobs are named by their content: one already there is the same file, and is kept.
tar --extract --file="$BACKUP/storage.tar" --directory="$STORAGE_DIR" --skip-old-files --no-same-owner \
  || die "could not extract storage.tar"

if [ "$(info pki)" = yes ]; then
  say "Restoring the PKI folder into $PKI_DIR"
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  tar --extract --file="$BACKUP/pki.tar" --directory="$PKI_DIR" --no-same-owner || die "could not extract pki.tar"
fi

# --- 4. Verify ------------------------------------------------------------------------------------
REVISION="$("$PYTHON" "$HELPER" db-revision)"
BLOBS="$(find "$STORAGE_DIR" -path "$STORAGE_DIR/tmp" -prune -o -type f -print | wc -l)"
say "Verifying the audit trail (flask --app app audit verify)"
if ! "$PYTHON" -m flask --app app audit verify; then
  die "restored, but the audit trail's chain is BROKEN (see above): investigate before opening the service"
fi

say "Restore complete"
echo "   database: $DB_DISPLAY at revision $REVISION"
echo "   file store: $STORAGE_DIR ($BLOBS file(s))"
echo "   PKI: $([ "$(info pki)" = yes ] && echo "$PKI_DIR" || echo "none in the backup")"
echo "   If this code is newer than the backup, run: flask --app app db upgrade; then start the services."
