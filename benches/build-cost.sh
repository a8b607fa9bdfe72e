#!/usr/bin/env bash
# Build cost: a clean debug build in a scratch target dir, then the incremental
# rebuild after a one-line edit of the vendored spec (a description), debug and
# release. Restores the spec afterwards. Usage: bash benches/build-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'git checkout -- spec/management.yaml; rm -rf "$scratch"' EXIT

secs() {
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  printf '%d.%02d' $(((end - start) / 1000000000)) $((((end - start) / 10000000) % 100))
}

echo "clean debug build (cargo build, empty target dir): $(CARGO_TARGET_DIR=$scratch secs cargo build)s"
cargo build >/dev/null 2>&1
cargo build --release >/dev/null 2>&1
sed -i '0,/summary: List workspaces/s//summary: List the workspaces/' spec/management.yaml
echo "rebuild after a one-line spec edit, debug: $(secs cargo build)s"
echo "rebuild after a one-line spec edit, release: $(secs cargo build --release)s"
