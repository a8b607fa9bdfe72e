#!/usr/bin/env bash
# The drift step of .github/workflows/drift.yml, runnable anywhere (.ci/run runs it too):
#
#   scripts/drift-ci.sh [--bin PATH] [--spec PATH|URL] [--fail-on never|conflict|breaking|any]
#                       [--summary PATH]
#
# Runs `molecule-mcp drift` (a self-check of the vendored spec without --spec) and prints
# its GitHub workflow annotations (file=, line=) on stdout; writes the Markdown report to
# --summary (default target/drift-ci/summary.md) and appends it to $GITHUB_STEP_SUMMARY
# when the runner provides one (on Gitea, which shows none, also to the log on stderr).
# A URL is downloaded first. Exit 0 when nothing reaches --fail-on (default conflict),
# 1 when something does, 2 on a usage or input error.
set -euo pipefail

target="${CARGO_TARGET_DIR:-target}"
bin="${MOLECULE_MCP_BIN:-$target/debug/molecule-mcp}"
work="$target/drift-ci"
spec=""
fail_on="conflict"
summary=""

usage() {
  sed -n '4,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --bin | --spec | --fail-on | --summary)
      [ $# -ge 2 ] || usage
      case "$1" in
        --bin) bin="$2" ;;
        --spec) spec="$2" ;;
        --fail-on) fail_on="$2" ;;
        --summary) summary="$2" ;;
      esac
      shift 2
      ;;
    -h | --help) usage ;;
    *)
      echo "drift-ci: unknown argument: $1" >&2
      usage
      ;;
  esac
done

if [ ! -x "$bin" ]; then
  echo "drift-ci: no molecule-mcp binary at $bin: build it first (cargo build) or pass --bin" >&2
  exit 2
fi
summary="${summary:-$work/summary.md}"
mkdir -p "$(dirname "$summary")"

args=(drift)
case "$spec" in
  "") ;;
  http://* | https://*)
    # Annotations then name the downloaded copy; its lines are the upstream file's.
    name="$(basename "${spec%%[?#]*}")"
    mkdir -p "$work"
    dest="$work/${name:-candidate.yaml}"
    if ! curl --fail --silent --show-error --location --retry 2 --output "$dest" "$spec"; then
      echo "::error title=drift::cannot download the candidate spec"
      exit 2
    fi
    args+=(--spec "$dest")
    ;;
  *) args+=(--spec "$spec") ;;
esac

# The Markdown report first: an input error (exit 2, the reason on stderr) stops here.
if ! "$bin" "${args[@]}" --format markdown --fail-on never --output "$summary"; then
  echo "::error title=drift::molecule-mcp drift could not read its inputs (see the log)"
  exit 2
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$summary" >>"$GITHUB_STEP_SUMMARY"
fi
if [ "${GITEA_ACTIONS:-}" = "true" ]; then
  # Gitea shows no job summary (even where its runner sets the variable): use the log.
  cat "$summary" >&2
fi
status=0
"$bin" "${args[@]}" --format github --fail-on "$fail_on" || status=$?
if [ "$status" -eq 1 ]; then
  echo "drift-ci: the report reaches --fail-on $fail_on (summary: $summary)" >&2
fi
exit "$status"
