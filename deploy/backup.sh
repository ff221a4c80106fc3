#!/usr/bin/env bash
# Back up e-Cabinet: the database, the file store and the PKI folder, into one new folder
#   DEST/ecabinet-YYYYmmddTHHMMSSZ/
#     database.dump      pg_dump -Fc (PostgreSQL)   or   database.sqlite3 (SQLite, a consistent copy)
#     storage.tar        CABINET_STORAGE_DIR (the documents, by SHA-256)
#     pki.tar            CABINET_PKI_DIR, when it exists (private keys: keep the backup private)
#     backup.info        what was backed up, from where, at which schema revision
#     MANIFEST.sha256    the SHA-256 of every file above (`sha256sum -c MANIFEST.sha256` checks it)
#
# Usage: deploy/backup.sh [--env-file /etc/ecabinet/ecabinet.env] DEST
#
# The settings (DATABASE_URL, CABINET_STORAGE_DIR, CABINET_PKI_DIR, CABINET_INSTANCE_PATH) come from
# the environment, or from --env-file, read the way the application reads them. The servers keep
# running. Run it as the service user (sudo -u ecabinet …): it must read what the servers write.
# CABINET_VENV names the virtualenv (default: the checkout's .venv). Exit status 0: complete.
set -euo pipefail
umask 077

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_DIR="$(dirname "$HERE")"
VENV="${CABINET_VENV:-$APP_DIR/.venv}"
PYTHON="$VENV/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
HELPER="$HERE/backup_helper.py"

usage() { echo "usage: $0 [--env-file FILE] DEST" >&2; exit 2; }
die() { echo "backup: $*" >&2; exit 1; }
say() { echo "== $*"; }

ENV_FILE=""
DEST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) [ $# -ge 2 ] || usage; ENV_FILE="$2"; shift 2 ;;
    --env-file=*) ENV_FILE="${1#*=}"; shift ;;
    -h|--help) usage ;;
    -*) echo "backup: unknown option $1" >&2; usage ;;
    *) [ -z "$DEST" ] || usage; DEST="$1"; shift ;;
  esac
done
[ -n "$DEST" ] || usage
[ -z "$ENV_FILE" ] || [ -r "$ENV_FILE" ] || die "cannot read $ENV_FILE"

mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
# Relative paths in the settings mean what they mean to the servers, started in the checkout.
cd "$APP_DIR"
SETTINGS="$("$PYTHON" "$HELPER" settings ${ENV_FILE:+--env-file "$ENV_FILE"})" || die "could not read the settings"
eval "$SETTINGS"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
TARGET="$DEST/ecabinet-$STAMP"
[ ! -e "$TARGET" ] || die "$TARGET already exists"
# Written under a temporary name, renamed when complete: a folder without .partial is a whole backup.
WORK="$TARGET.partial"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK"

# 1. The database first, then the files. Blobs are only ever added, under their hash, before the
#    row naming them commits: files copied after the database hold every blob it refers to.
say "Database: $DB_DISPLAY"
if [ "$DB_KIND" = postgresql ]; then
  command -v pg_dump >/dev/null || die "pg_dump not found: install postgresql-client (the server's major version or newer)"
  DB_FILE=database.dump
  # The password goes in PGPASSWORD (not on the command line, which `ps` shows), when there is one.
  if [ -n "$PG_PASSWORD" ]; then export PGPASSWORD="$PG_PASSWORD"; fi
  pg_dump --format=custom --file="$WORK/$DB_FILE" --dbname="$PG_URL" || die "pg_dump failed"
else
  DB_FILE=database.sqlite3
  "$PYTHON" "$HELPER" sqlite-backup "$SQLITE_PATH" "$WORK/$DB_FILE" || die "the SQLite copy failed"
fi
REVISION="$("$PYTHON" "$HELPER" db-revision)"

# tar's exit status 1 only means a file changed while it was read (an upload arriving): the new
# blob is complete under its own name or not there at all, so the archive is still good.
archive() {
  local from="$1" to="$2" status=0
  tar --create --file="$to" --directory="$from" --exclude=./tmp . || status=$?
  [ "$status" -le 1 ] || die "tar of $from failed"
}

say "File store: $STORAGE_DIR"
if [ -d "$STORAGE_DIR" ]; then
  archive "$STORAGE_DIR" "$WORK/storage.tar"
  BLOBS="$(find "$STORAGE_DIR" -path "$STORAGE_DIR/tmp" -prune -o -type f -print | wc -l)"
else
  echo "   (no folder yet: no document was ever uploaded)"
  tar --create --file="$WORK/storage.tar" --files-from=/dev/null
  BLOBS=0
fi

say "PKI folder: $PKI_DIR"
if [ -d "$PKI_DIR" ]; then
  archive "$PKI_DIR" "$WORK/pki.tar"
  PKI=yes
else
  echo "   (none)"
  PKI=no
fi

COMMIT="$(git -C "$APP_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
cat > "$WORK/backup.info" <<EOF
format=1
created=$STAMP
host=$(hostname)
database=$DB_KIND
database_file=$DB_FILE
alembic_revision=$REVISION
storage_blobs=$BLOBS
pki=$PKI
app_commit=$COMMIT
EOF

"$PYTHON" "$HELPER" write-manifest "$WORK"
mv "$WORK" "$TARGET"
trap - EXIT

say "Backup complete: $TARGET"
( cd "$TARGET" && du -h -- * | sed 's/^/   /' )
echo "   schema revision $REVISION, $BLOBS stored file(s), PKI: $PKI"
