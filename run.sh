#!/usr/bin/env bash
# Parklotse in one step on Debian/Ubuntu with Python >= 3.11:
#   ./run.sh demo    install what is missing, then run the whole stack locally (Ctrl-C stops it)
#   ./run.sh test    install what is missing, then lint, type-check and run the full test suite
#   ./run.sh bench   install what is missing, then run the benchmarks and print their figures
#   ./run.sh setup   only install
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else
    echo "run.sh: need root to install system packages: $*" >&2
    echo "run.sh: install them yourself (as root: apt-get install -y ${missing[*]}) and run again" >&2
    exit 1
  fi
}

install_system_packages() {
  missing=()
  [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
  command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
  # parklotse demo --secure and pilot-secrets make their CA and certificates with it
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  if [ "${1:-}" = "browser" ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "run.sh: please install: ${missing[*]} (this script knows only apt)" >&2; exit 1
    fi
    echo "run.sh: installing ${missing[*]} from the distribution's packages"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # On machines with systemd the packages start system-wide services; Parklotse runs its own
    # servers in its own folders and does not need them.
  fi
}

install_python() {
  "$PYTHON" - <<'PY' || { echo "run.sh: Python >= 3.11 is required (set PYTHON=python3.11)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  local stamp="$VENV/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

case "${1:-help}" in
  setup)
    install_system_packages browser; install_python ;;
  demo)
    install_system_packages; install_python
    shift; exec "$VENV/bin/parklotse" demo "$@" ;;
  test)
    install_system_packages browser; install_python
    shift
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    "$VENV/bin/mypy" .
    exec "$VENV/bin/pytest" "$@" ;;
  bench)
    install_system_packages; install_python
    shift; exec "$VENV/bin/python" -m bench "$@" ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
