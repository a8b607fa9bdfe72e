// The official MCP TypeScript SDK client over Streamable HTTP (what Claude Code's
// `"type": "http"` servers and the hosted connectors use) against `serve --http`:
// initialize, list, every tool called, errors — each validated by the SDK as a host
// would. Run by .ci/run with MOLECULE_MCP_BIN set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const BIN =
  process.env.MOLECULE_MCP_BIN ??
  new URL("../../target/debug/molecule-mcp", import.meta.url).pathname;
const cases = JSON.parse(readFileSync(new URL("./cases.json", import.meta.url)));

/** Starts `serve --http` on a free port; resolves to { url, child }. */
async function serve(args, env) {
  const child = spawn(BIN, ["serve", "--http", "127.0.0.1:0", ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let seen = "";
  const url = await new Promise((resolve, reject) => {
    child.stderr.on("data", (chunk) => {
      seen += chunk;
      const m = seen.match(/at (http:\/\/[^ ]+\/mcp)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", () => reject(new Error(`exited: ${seen}`)));
  });
  return { url, child };
}

async function stop(child) {
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  return code;
}

async function connect(url, headers = {}) {
  const client = new Client({ name: "sdk-http-test", version: "0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

test("every tool through --sandbox --http with the SDK's Streamable HTTP client", async () => {
  const { url, child } = await serve(["--sandbox"], {});
  const client = await connect(url);
  try {
    const { tools } = await client.listTools();
    assert.equal(new Set(cases.map((c) => c.tool)).size, tools.length);
    let ok = 0;
    for (const c of cases) {
      // The SDK throws if a success breaks its tool's outputSchema.
      const result = await client.callTool({ name: c.tool, arguments: c.args });
      if (result.isError) {
        const e = JSON.parse(result.content[0].text);
        assert.ok(typeof e.error === "string", `${c.tool}: ${result.content[0].text}`);
      } else {
        ok++;
      }
    }
    for (const tool of tools) {
      if (!tool.annotations?.readOnlyHint || (tool.inputSchema.required ?? []).length) continue;
      const result = await client.callTool({ name: tool.name, arguments: {} });
      assert.ok(!result.isError, `${tool.name}: ${result.content?.[0]?.text}`);
      ok++;
    }
    assert.ok(ok >= 10, `${ok} successes`);
    const bad = await client.callTool({ name: "get_workspace", arguments: {} });
    assert.equal(bad.isError, true);
    assert.equal(JSON.parse(bad.content[0].text).error, "INVALID_ARGUMENTS");
    await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /unknown tool/);
  } finally {
    await client.close();
    assert.equal(await stop(child), 0);
  }
});

test("without a key the SDK client is refused with 401", async () => {
  const { url, child } = await serve([], { MOLECULE_API_URL: "http://127.0.0.1:9" });
  try {
    await assert.rejects(connect(url), /401|Unauthorized|missing credentials/i);
    const client = await connect(url, {
      Authorization: "Bearer sk-sdk-http-key",
      "X-Molecule-Org-Id": "org-1",
    });
    const { tools } = await client.listTools();
    assert.equal(tools.length, new Set(cases.map((c) => c.tool)).size);
    // The tenant is not there: an error result naming it, not a transport failure.
    const result = await client.callTool({ name: "list_workspaces", arguments: {} });
    assert.equal(result.isError, true);
    assert.match(JSON.parse(result.content[0].text).error, /unreachable/);
    await client.close();
  } finally {
    await stop(child);
  }
});
