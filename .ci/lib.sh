# Shared by .ci/start, .ci/test and .ci/run: install what a fresh Debian/Ubuntu machine lacks.
# Sourced, not run. Everything is idempotent: a second run installs nothing.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CABINET_VENV:-$ROOT/.venv}"
export DEBIAN_FRONTEND=noninteractive

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt PKG...: install the Debian packages that are not installed yet.
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== Installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# Packages the application itself needs at run time.
ensure_runtime_system() {
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    ensure_apt python3 python3-venv python3-pip
  fi
  # Documents: WeasyPrint (watermarks of classified PDFs) needs Pango and HarfBuzz; LibreOffice
  # converts uploaded DOCX to PDF (without it a DOCX is kept as a download only); Liberation fonts
  # (Times New Roman / Arial metric twins with every Vietnamese glyph) for those conversions.
  ensure_apt libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libreoffice-writer-nogui fonts-liberation2
  # Signed PDFs: poppler's pdfsig is the independent validator (and pdftoppm renders pages);
  # certutil builds the NSS database pdfsig trusts a CA through.
  ensure_apt poppler-utils libnss3-tools
}

# What the tests need beyond the run time: Debian's chromium for the browser tests (Playwright drives
# it; its own browser download is not used); pg_dump and pg_restore for the backup scripts' tests
# (postgresql-client: Debian 12's is version 15, which must not be older than the server's).
ensure_test_system() {
  ensure_apt chromium
  # tests/cluster.py runs a private redis-server per test (killed and restarted by the fault tests).
  command -v redis-server >/dev/null || ensure_apt redis-server
  if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
    ensure_apt postgresql-client
  fi
}

# ensure_venv EXTRAS: a virtualenv in .venv with the project installed (editable).
ensure_venv() {
  local extras="${1:-}"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== Creating the virtualenv $VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  echo "== Installing e-Cabinet${extras:+ with [$extras]}"
  "$VENV/bin/python" -m pip install -q -e "$ROOT${extras:+[$extras]}"
}
