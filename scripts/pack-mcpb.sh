#!/usr/bin/env bash
# Packs the MCP Bundle for Claude Desktop (docs/deploy.md, "The MCP Bundle"):
# deploy/mcpb/manifest.json plus BINARY as server/molecule-mcp, validated and packed by
# the pinned @anthropic-ai/mcpb from npm. The manifest declares Linux: pack it with a
# Linux x86-64 binary (release bundles take target/release/molecule-mcp).
# Usage: scripts/pack-mcpb.sh BINARY OUTPUT.mcpb
set -euo pipefail
cd "$(dirname "$0")/.."
mcpb="@anthropic-ai/mcpb@2.1.2"
[ "$#" -eq 2 ] || {
  echo "usage: $0 BINARY OUTPUT.mcpb" >&2
  exit 2
}
bin="$(realpath "$1")"
out="$(realpath -m "$2")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server"
cp deploy/mcpb/manifest.json "$stage/manifest.json"
# Symbols are no use to a host; the release profile strips them already.
strip -o "$stage/server/molecule-mcp" "$bin"
chmod 0755 "$stage/server/molecule-mcp"
npx --yes "$mcpb" validate "$stage/manifest.json"
npx --yes "$mcpb" pack "$stage" "$out"
