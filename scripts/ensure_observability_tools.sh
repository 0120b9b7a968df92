#!/usr/bin/env bash
# Make sure the programs the observability tests drive are present, installing Debian's packages when
# they are not: `prometheus` (the server and promtool: the dashboard's and the alert rules' queries are
# evaluated by a real Prometheus) and `chromium` (the operator console is tested in a real browser,
# driven by Playwright). Idempotent: does nothing when both are already installed.
set -euo pipefail
# shellcheck source=lib/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt_install.sh"

missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
    echo "prometheus, promtool and chromium present"
    exit 0
fi

apt_install "${missing[@]}"
# The package starts its own Prometheus service where an init system runs; the tests start their own.
for tool in prometheus promtool chromium; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool not found after installing ${missing[*]}" >&2; exit 1; }
done
echo "installed: ${missing[*]}"
