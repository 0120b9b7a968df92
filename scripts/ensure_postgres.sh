#!/usr/bin/env bash
# Make sure the PostgreSQL server programs (initdb, pg_ctl) are present, installing Debian's `postgresql`
# package if they are not. Idempotent: does nothing when they are already installed. The store tests
# start a throwaway server with them (tests/postgres.py); they do not use the package's own cluster.
set -euo pipefail
# shellcheck source=lib/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt_install.sh"

have_server() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null
}

if have_server; then
    echo "PostgreSQL server programs present"
    exit 0
fi

apt_install postgresql
have_server || { echo "postgresql installed but initdb/pg_ctl not found" >&2; exit 1; }
echo "PostgreSQL server programs installed"
