#!/usr/bin/env bash
# The contract checks of `make lint`, run from the project's root:
# - openapi-python-client generates the Python client of api/openapi.yaml without a warning
#   (Python: always runs);
# - Spectral (spectral:oas) and Redocly (recommended) find nothing, openapi-typescript's types
#   compile under `tsc --strict` with lint/contract/typed-client.ts (Node: the versions pinned in
#   package-lock.json, installed into lint/contract/node_modules). Without node these print one
#   line and succeed, so `make test` needs nothing but Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONTRACT=api/openapi.yaml
HERE=lint/contract
OPENAPI_VENV=.venv-openapi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The generator runs ruff on what it writes: its own ruff, from its own venv.
PATH="$PWD/$OPENAPI_VENV/bin:$PATH" "$OPENAPI_VENV/bin/openapi-python-client" generate \
  --path "$CONTRACT" --config "$HERE/openapi-python-client.yaml" --meta none \
  --output-path "$scratch/receipt_vault_client" --fail-on-warning >"$scratch/generate.log" 2>&1 ||
  { cat "$scratch/generate.log" >&2; exit 1; }
echo "openapi-python-client: the client generates without warnings"

if ! command -v node >/dev/null 2>&1; then
  echo "contract: Spectral, Redocly and openapi-typescript + tsc skipped: node is not installed"
  exit 0
fi

# npm ci again only when the lock file changed since the last install.
stamp="$HERE/node_modules/.installed"
if [ ! -f "$stamp" ] || [ "$HERE/package-lock.json" -nt "$stamp" ]; then
  npm ci --prefix "$HERE" --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
bin="$HERE/node_modules/.bin"

"$bin/spectral" lint --ruleset "$HERE/.spectral.yaml" --fail-severity=warn --quiet "$CONTRACT"
echo "spectral: no errors, no warnings"

# Redocly prints its progress, and a notice about the Node version, on stderr: shown on failure.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$bin/redocly" lint --config "$HERE/redocly.yaml" --format=stylish "$CONTRACT" 2>"$scratch/redocly.log" ||
  { cat "$scratch/redocly.log" >&2; exit 1; }
echo "redocly: no errors, no warnings"

# From the project's root, where no node_modules/@types lies: tsc sees the generated types and
# the check alone, with its default options but --strict.
mkdir -p "$HERE/generated"
"$bin/openapi-typescript" "$CONTRACT" --output "$HERE/generated/openapi.d.ts"
"$bin/tsc" --strict --noEmit "$HERE/generated/openapi.d.ts" "$HERE/typed-client.ts"
echo "openapi-typescript: the types compile under tsc --strict"
