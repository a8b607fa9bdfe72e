// The official MCP TypeScript SDK client — what Claude Code, Cursor and Claude Desktop
// use — driving the real binary over stdio. Unlike rmcp's client, it validates every
// successful result's structuredContent against the tool's outputSchema (and raises
// when a tool that declares one returns none), so these tests see what a host sees.
// Run by .ci/run: `node --test tests/sdk/` with MOLECULE_MCP_BIN set to the binary.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const BIN =
  process.env.MOLECULE_MCP_BIN ??
  new URL("../../target/debug/molecule-mcp", import.meta.url).pathname;
const cases = JSON.parse(readFileSync(new URL("./cases.json", import.meta.url)));

async function connect(args, env) {
  const transport = new StdioClientTransport({
    command: BIN,
    args,
    env: { PATH: process.env.PATH ?? "", ...env },
    stderr: "ignore",
  });
  const client = new Client({ name: "sdk-test", version: "0" });
  await client.connect(transport);
  return client;
}

/** A loopback tenant (and control plane) that answers every request with `reply()`. */
async function tenant(reply) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const [status, body] = reply(req);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

function envelope(result) {
  return JSON.parse(result.content[0].text);
}

const KEY = "sk-sdk-test-0123456789";
const credentials = (url) => ({
  MOLECULE_API_URL: url,
  MOLECULE_CP_URL: url,
  MOLECULE_ORG_API_KEY: KEY,
  MOLECULE_ORG_ID: "org-1",
  CP_ADMIN_API_TOKEN: "cp-sdk-test-9876",
});

// Every kind of 2xx body a tenant or a proxy in front of it can send.
const BODIES = [
  [204, ""],
  [200, ""],
  [201, "[]"],
  [200, '[{"id":"w"}]'],
  [200, '"ok"'],
  [200, "42"],
  [200, "not json <html>"],
  [200, "{}"],
  [207, '{"unexpected":[1,2],"id":"x"}'],
  [200, '{"id":5,"name":[]}'],
];

test("every tool and every 2xx body kind: a result the SDK client accepts", async () => {
  let kind = 0;
  const { server, url } = await tenant(() => BODIES[kind]);
  const client = await connect([], credentials(url));
  try {
    const { tools } = await client.listTools(); // the client caches output validators
    assert.equal(new Set(cases.map((c) => c.tool)).size, tools.length);
    let successes = 0;
    for (const c of cases) {
      for (kind = 0; kind < BODIES.length; kind++) {
        const [status, body] = BODIES[kind];
        const where = `${c.tool} ${status} ${JSON.stringify(body)}`;
        // Throws if a success lacks or breaks structuredContent.
        const result = await client.callTool({ name: c.tool, arguments: c.args });
        if (result.isError) {
          assert.equal(envelope(result).error, "UPSTREAM_CONTRACT_MISMATCH", where);
        } else {
          successes++;
        }
        if (body === "") assert.ok(!result.isError, `${where}: an empty 2xx is a success`);
      }
    }
    assert.ok(successes > 100, `${successes} successes`);
  } finally {
    await client.close();
    server.close();
  }
});

test("every tool's error paths reach the SDK client as error results", async () => {
  const statuses = [400, 401, 404, 409, 429, 500, 503];
  let status = 400;
  const { server, url } = await tenant(() => [status, `{"error":"upstream says ${status}"}`]);
  const client = await connect([], { ...credentials(url), MOLECULE_MCP_TIMEOUT_SECS: "5" });
  try {
    await client.listTools();
    for (const c of cases) {
      for (status of statuses) {
        const result = await client.callTool({ name: c.tool, arguments: c.args });
        assert.equal(result.isError, true, `${c.tool} ${status}`);
        const e = envelope(result);
        assert.ok(typeof e.error === "string" && e.error.length > 0, `${c.tool}: ${e}`);
        assert.ok(!JSON.stringify(result).includes(KEY), "the key never comes back");
      }
      // Bad arguments: INVALID_ARGUMENTS, nothing sent.
      const bad = await client.callTool({ name: c.tool, arguments: { ...c.args, no_such_argument: 1 } });
      assert.equal(bad.isError, true);
      assert.equal(envelope(bad).error, "INVALID_ARGUMENTS", c.tool);
    }
    await assert.rejects(client.callTool({ name: "no_such_tool", arguments: {} }), /unknown tool/);
  } finally {
    await client.close();
    server.close();
  }
});

test("against the sandbox: every tool listed, every read tool without arguments succeeds", async () => {
  const client = await connect(["--sandbox"], {});
  try {
    const { tools } = await client.listTools();
    let called = 0;
    for (const tool of tools) {
      if (!tool.annotations?.readOnlyHint || (tool.inputSchema.required ?? []).length > 0) continue;
      const result = await client.callTool({ name: tool.name, arguments: {} });
      assert.ok(!result.isError, `${tool.name}: ${result.content?.[0]?.text}`);
      if (tool.outputSchema) assert.ok(result.structuredContent, tool.name);
      called++;
    }
    assert.ok(called >= 8, `${called} read tools called`);
  } finally {
    await client.close();
  }
});

test("against the sandbox: the control-plane tools return structuredContent the client accepts", async () => {
  const client = await connect(["--sandbox"], {});
  try {
    const { tools } = await client.listTools(); // the client caches output validators
    for (const name of ["list_orgs", "get_org"]) {
      const tool = tools.find((t) => t.name === name);
      assert.equal(tool.outputSchema?.type, "object", `${name} declares an outputSchema`);
    }
    // callTool throws when structuredContent is missing or breaks the outputSchema.
    const list = await client.callTool({ name: "list_orgs", arguments: {} });
    assert.ok(!list.isError, list.content?.[0]?.text);
    assert.equal(list.structuredContent.orgs[0].slug, "sandbox");
    const one = await client.callTool({ name: "get_org", arguments: { slug: "sandbox" } });
    assert.ok(!one.isError, one.content?.[0]?.text);
    assert.equal(one.structuredContent.slug, "sandbox");
  } finally {
    await client.close();
  }
});
