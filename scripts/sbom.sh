#!/usr/bin/env bash
# The inventory of what each flavour ships (sbom/<flavour>.cdx.json, CycloneDX 1.6) and the licence check
# against licenses/allowed.yaml. Run by scripts/lock.sh (`make lock`), or alone as `make sbom` after an
# edit to licenses/. Needs the network (pip reads each locked package's metadata from the index).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools="${STELLWERK_TOOLS:?run through scripts/lock.sh (make lock / make sbom)}"
torch_dir="${STELLWERK_TORCH_DIR:?run through scripts/lock.sh (make lock / make sbom)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p sbom

# pip's resolver report of a lock, without installing: it carries each package's core metadata (licence
# fields, classifiers). --isolated keeps this machine's pip configuration out of it. Both flavours at once:
# most of the time goes into waiting for the index.
report() {
    "$tools/bin/pip" install --isolated ${PIP_CERT:+--cert "$PIP_CERT"} --quiet --dry-run --ignore-installed \
        --no-deps --only-binary=:all: --find-links "$torch_dir" --report "$work/$1.json" -r "requirements/$1.lock"
}
report cpu & cpu_pid=$!
report gpu & gpu_pid=$!
wait "$cpu_pid"
wait "$gpu_pid"
for flavour in cpu gpu; do
    "$tools/bin/python" -m release.sbom "$flavour" "requirements/$flavour.lock" "$work/$flavour.json" \
        "sbom/$flavour.cdx.json"
done
"$tools/bin/python" - sbom/cpu.cdx.json sbom/gpu.cdx.json <<'PY'
import sys
from pathlib import Path
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

for path in sys.argv[1:]:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(Path(path).read_text())
    if error is not None:
        sys.exit(f"{path} is not valid CycloneDX 1.6: {error}")
print("==> SBOMs valid against the CycloneDX 1.6 schema")
PY
"$tools/bin/python" -m release.licenses sbom/cpu.cdx.json sbom/gpu.cdx.json
