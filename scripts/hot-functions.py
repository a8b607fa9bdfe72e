#!/usr/bin/env python3
"""The functions a stdio session runs, for the linker to place together
(build/layout.rs; docs/performance.md, "Code layout").

    python3 scripts/hot-functions.py            # rebuild, rewrite build/hot-functions.txt
    python3 scripts/hot-functions.py --check    # rebuild, say how much of the list applies

Builds the release binary (`cargo build --release`; --bin PATH takes a built one
instead), runs one stdio session under `valgrind --tool=callgrind` against a tenant on
127.0.0.1 (initialize, tools/list, reads that succeed and fail, writes, an invalid
argument, an unknown tool, a tool without its credential), and takes every function of
the binary that ran. It needs valgrind and `nm`; it reads the symbols of the release
binary, which Cargo.toml's release profile keeps for this.

--check exits 1 when less than 90% of the code the session ran (in bytes) is on the
list, which happens when Cargo.lock, the toolchain or much of the code changed: the
symbols' names carry hashes of those. Rewriting the list, rebuilding and committing
both fixes it.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIST = ROOT / "build" / "hot-functions.txt"
THRESHOLD = 0.90
BLOCK = 64 * 1024
WORKSPACE = "0b6f3c1e-2d4a-4c3b-9f1e-7a6b5c4d3e2f"
MISSING = "9d4b0c1e-0000-4000-8000-000000000000"
HEADER = """\
# The functions a stdio session of the release binary runs, one mangled symbol a line,
# for rust-lld's --symbol-ordering-file (build/layout.rs; docs/performance.md, "Code
# layout"). Written by `python3 scripts/hot-functions.py`; do not edit by hand.
"""


class Tenant(BaseHTTPRequestHandler):
    """A tenant that answers every path the session calls."""

    protocol_version = "HTTP/1.1"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (the handler's name)
        workspace = {"id": WORKSPACE, "name": "alpha", "status": "online", "tier": 2}
        if self.path == "/workspaces":
            self.answer(200, [workspace])
        elif self.path == f"/workspaces/{WORKSPACE}":
            self.answer(200, workspace)
        elif self.path.startswith("/workspaces/"):
            self.answer(404, {"error": "workspace not found"})
        else:
            self.answer(200, [])

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        self.answer(200, {"status": "ok"})

    do_PUT = do_POST
    do_PATCH = do_POST

    def log_message(self, *args):
        pass


def session(binary, out_file):
    """Runs the session under callgrind; returns the callgrind output's path."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tenant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MOLECULE_API_URL": f"http://127.0.0.1:{server.server_port}",
        "MOLECULE_ORG_API_KEY": "sk-layout",
        "MOLECULE_ORG_ID": "org-layout",
    }
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        "--demangle=no",
        "--dump-line=no",
        binary,
    ]
    child = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    ids = iter(range(1, 1000))

    def send(message):
        child.stdin.write((json.dumps(message) + "\n").encode())
        child.stdin.flush()

    def request(method, params):
        send({"jsonrpc": "2.0", "id": next(ids), "method": method, "params": params})
        line = child.stdout.readline()
        if not line:
            sys.exit("hot-functions: the server ended the session early")
        return json.loads(line)

    def call(name, arguments):
        return request("tools/call", {"name": name, "arguments": arguments})

    request(
        "initialize",
        {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "hot-functions", "version": "0"},
        },
    )
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    listed = request("tools/list", {})
    if not listed.get("result", {}).get("tools"):
        sys.exit(f"hot-functions: tools/list answered {listed}")
    for _ in range(3):
        call("list_workspaces", {})
    call("get_workspace", {"workspace_id": WORKSPACE})
    call("get_workspace", {"workspace_id": MISSING})
    call("get_workspace", {"workspace_id": 7})
    call("list_workspace_secrets", {"workspace_id": WORKSPACE})
    call("get_workspace_budget", {"workspace_id": WORKSPACE})
    call("restart_workspace", {"workspace_id": WORKSPACE})
    call("set_workspace_secret", {"workspace_id": WORKSPACE, "key": "K", "value": "v"})
    call("list_orgs", {})
    call("no_such_tool", {})
    child.stdin.close()
    child.wait()
    server.shutdown()
    return out_file


def ran(callgrind_out):
    """Every function name callgrind recorded (with --compress-strings, the first
    mention of an id carries its name)."""
    names = set()
    pattern = re.compile(r"^c?fn=\(\d+\) (.+)$")
    with open(callgrind_out) as f:
        for line in f:
            match = pattern.match(line.rstrip("\n"))
            if match:
                names.add(match.group(1))
    return names


def functions(binary):
    """The binary's functions: name -> (address, size)."""
    out = subprocess.run(
        ["nm", "--defined-only", "--print-size", binary],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    if not found:
        sys.exit(f"hot-functions: {binary} has no symbols (Cargo.toml's release profile keeps them)")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report, do not rewrite")
    parser.add_argument("--bin", help="a release binary already built from this tree")
    args = parser.parse_args()
    binary = args.bin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        binary = str(target / "release" / "molecule-mcp")
    with tempfile.TemporaryDirectory() as tmp:
        executed = ran(session(binary, os.path.join(tmp, "callgrind.out")))
    symbols = functions(binary)
    hot = sorted(name for name in executed if name in symbols)
    hot_bytes = sum(symbols[name][1] for name in hot)
    text_bytes = sum(size for _, size in symbols.values())
    # The kernel maps a binary's code in 64 KiB blocks around each page first run.
    blocks = {
        block
        for name in hot
        for block in range(
            symbols[name][0] // BLOCK, (symbols[name][0] + max(symbols[name][1], 1) - 1) // BLOCK + 1
        )
    }
    print(
        f"hot-functions: the session ran {len(hot)} of the binary's {len(symbols)} functions, "
        f"{hot_bytes / 2**20:.2f} of {text_bytes / 2**20:.2f} MiB of code, in "
        f"{len(blocks)} blocks of 64 KiB ({len(blocks) * BLOCK / 2**20:.2f} MiB)",
        file=sys.stderr,
    )
    if not args.check:
        LIST.write_text(HEADER + "".join(f"{name}\n" for name in hot))
        print(f"hot-functions: wrote {LIST.relative_to(ROOT)}; rebuild to apply it", file=sys.stderr)
        return 0
    listed = {
        line.strip()
        for line in LIST.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    covered = sum(symbols[name][1] for name in hot if name in listed)
    share = covered / hot_bytes if hot_bytes else 0.0
    print(
        f"hot-functions: {LIST.relative_to(ROOT)} names {share:.1%} of that code "
        f"(at least {THRESHOLD:.0%} wanted)",
        file=sys.stderr,
    )
    if share < THRESHOLD:
        print(
            f"hot-functions: run `python3 scripts/hot-functions.py`, then rebuild and commit "
            f"{LIST.relative_to(ROOT)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
