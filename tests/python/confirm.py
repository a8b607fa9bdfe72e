"""Confirmation by a person with the official MCP Python SDK (PyPI `mcp` 2.x), driving
the real binary (docs/safety.md): on protocol 2026-07-28 (multi-round-trip:
`input_required`, then a retry with a sealed requestState) over HTTP and stdio, and over
stdio on 2025-11-25 (server-initiated elicitation/create), each with an elicitation
callback that accepts, declines or cancels, against a recording tenant; and a dry run's
plan, which the client accepts. Run by .ci/run:
`python tests/python/confirm.py BIN` in a pinned venv; exits non-zero on a failure.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client

BIN = sys.argv[1]
WS = "33333333-3333-4333-8333-333333333333"
KEY = "sk-python-confirm-0123456789"


def sandbox(tool, args=None):
    out = subprocess.run(
        [BIN, "call", tool, "--sandbox", "--args", json.dumps(args or {})],
        capture_output=True, check=True,
    ).stdout
    return json.loads(out)


WORKSPACE = sandbox("get_workspace", {"workspace_id": WS})
WORKSPACES = sandbox("list_workspaces")
RECEIVED = []


class Tenant(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        RECEIVED.append((self.command, self.path, self.headers.get("x-confirm-name")))
        body = "{}"
        if self.command == "GET" and self.path == "/workspaces":
            body = json.dumps(WORKSPACES)
        elif self.command == "GET" and self.path.startswith("/workspaces/"):
            body = json.dumps(WORKSPACE)
        data = body.encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


def writes():
    return [r for r in RECEIVED if r[0] != "GET"]


def answer_with(action, name=WORKSPACE["name"]):
    async def callback(context, params):
        if action != "accept":
            return types.ElicitResult(action=action)
        if "name" in params.requested_schema["properties"]:
            return types.ElicitResult(action="accept", content={"name": name})
        return types.ElicitResult(action="accept", content={"confirm": True})
    return callback


# Every destructive tool: its arguments and the one request it sends when accepted.
OTHERS = [
    ("delete_workspace_secret", {"workspace_id": WS, "key": "OPENAI_API_KEY"}, "DELETE", f"/workspaces/{WS}/secrets/OPENAI_API_KEY"),
    ("delete_org_secret", {"key": "GITHUB_TOKEN"}, "DELETE", "/settings/secrets/GITHUB_TOKEN"),
    ("revoke_org_token", {"id": "44444444-4444-4444-8444-444444444444"}, "DELETE", "/org/tokens/44444444-4444-4444-8444-444444444444"),
    ("create_org_from_template", {"dir": "starter", "mode": "reconcile"}, "POST", "/org/import"),
]


def error_code(result):
    return json.loads(result.content[0].text)["error"] if result.is_error else None


async def round_trip(connect, label):
    for action, name, sent in [
        ("decline", WORKSPACE["name"], 0),
        ("cancel", WORKSPACE["name"], 0),
        ("accept", "not the name", 0),
        ("accept", WORKSPACE["name"], 1),
    ]:
        RECEIVED.clear()
        async with connect(answer_with(action, name)) as client:
            result = await client.call_tool("deprovision_workspace", {"workspace_id": WS})
        got = writes()
        assert len(got) == sent, f"{label} {action} {name!r}: sent {got}"
        if sent:
            assert not result.is_error, f"{label}: {result.content[0].text}"
            assert got[0][0] == "DELETE" and got[0][1].startswith(f"/workspaces/{WS}"), got
            assert got[0][2] == WORKSPACE["name"], f"{label}: X-Confirm-Name {got[0][2]!r}"
        else:
            assert error_code(result) == "CONFIRMATION_DECLINED", f"{label} {action}: {result}"
    for tool, args, method, path in OTHERS:
        for action, sent in [("decline", 0), ("cancel", 0), ("accept", 1)]:
            RECEIVED.clear()
            async with connect(answer_with(action)) as client:
                result = await client.call_tool(tool, args)
            got = [(m, p.split("?")[0]) for m, p, _ in writes()]
            assert got == [(method, path)] * sent, f"{label} {tool} {action}: sent {got}"
            if not sent:
                assert error_code(result) == "CONFIRMATION_DECLINED", f"{label} {tool}: {result}"
    print(f"ok - {label}: every destructive tool sends its one request only when accepted; the typed name is checked")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main():
    tenant = ThreadingHTTPServer(("127.0.0.1", 0), Tenant)
    threading.Thread(target=tenant.serve_forever, daemon=True).start()
    tenant_url = f"http://127.0.0.1:{tenant.server_address[1]}"
    env = {"PATH": os.environ.get("PATH", ""), "MOLECULE_API_URL": tenant_url}

    # stdio, 2025-11-25: a server-initiated elicitation/create.
    def stdio(callback):
        params = StdioServerParameters(
            command=BIN, args=[], env={**env, "MOLECULE_ORG_API_KEY": KEY, "MOLECULE_ORG_ID": "org-1"}
        )
        return Client(params, mode="legacy", elicitation_callback=callback)

    await round_trip(stdio, "stdio 2025-11-25")

    # stdio, 2026-07-28 (pinned, and "auto", the SDK's default, which discovers it):
    # input_required and a retry with the sealed state; no server-initiated request.
    for mode in ["2026-07-28", "auto"]:
        def stdio_modern(callback, mode=mode):
            params = StdioServerParameters(
                command=BIN, args=[], env={**env, "MOLECULE_ORG_API_KEY": KEY, "MOLECULE_ORG_ID": "org-1"}
            )
            return Client(params, mode=mode, elicitation_callback=callback)

        await round_trip(stdio_modern, f"stdio, mode {mode}")

    # A dry run's plan is an error result the client accepts, for a tool with an outputSchema.
    RECEIVED.clear()
    params = StdioServerParameters(
        command=BIN, args=["--dry-run"],
        env={**env, "MOLECULE_ORG_API_KEY": KEY, "MOLECULE_ORG_ID": "org-1"},
    )
    async with Client(params, mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert tools["pause_workspace"].output_schema, "a tool with an outputSchema"
        result = await client.call_tool("pause_workspace", {"workspace_id": WS, "cascade": True})
    assert error_code(result) == "DRY_RUN", result
    assert json.loads(result.content[0].text)["detail"]["request"]["method"] == "POST"
    assert RECEIVED == [], RECEIVED
    print("ok - dry run: the plan is an error result the client accepts; nothing sent")

    # HTTP, 2026-07-28: input_required and a retry with the sealed state.
    port = free_port()
    server = subprocess.Popen(
        [BIN, "serve", "--http", f"127.0.0.1:{port}"],
        env={**env, "MOLECULE_MCP_STATE_KEY": "python-test-state-key-0123456789abcdef"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)

        def http(callback):
            headers = {"authorization": f"Bearer {KEY}", "x-molecule-org-id": "org-1"}
            transport = streamable_http_client(
                f"http://127.0.0.1:{port}/mcp", http_client=httpx2.AsyncClient(headers=headers)
            )
            return Client(transport, mode="2026-07-28", elicitation_callback=callback)

        await round_trip(http, "http 2026-07-28")
    finally:
        server.terminate()
        server.wait(timeout=20)
        tenant.shutdown()


asyncio.run(main())
