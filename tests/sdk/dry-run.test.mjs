// Dry run (docs/safety.md) as the official MCP TypeScript SDK client sees it: every
// tool that is not a read answers with a DRY_RUN error result — which the client
// accepts even for tools that declare an outputSchema — and the tenant receives nothing.
// Run by .ci/run with the other SDK tests.
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
const KEY = "sk-sdk-dry-run-0123456789";

test("dry run: every write tool answers with a plan the SDK client accepts, nothing sent", async () => {
  const received = [];
  const server = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const transport = new StdioClientTransport({
    command: BIN,
    args: ["--dry-run"],
    env: {
      PATH: process.env.PATH ?? "",
      MOLECULE_API_URL: url,
      MOLECULE_CP_URL: url,
      MOLECULE_ORG_API_KEY: KEY,
      MOLECULE_ORG_ID: "org-1",
      CP_ADMIN_API_TOKEN: "cp-sdk-dry-run-9876",
    },
    stderr: "ignore",
  });
  const client = new Client({ name: "sdk-dry-run", version: "0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools(); // the client caches output validators
    const byName = new Map(tools.map((t) => [t.name, t]));
    let planned = 0;
    for (const c of cases) {
      const tool = byName.get(c.tool);
      if (tool.annotations?.readOnlyHint) continue;
      // Throws if the client refuses the result.
      const result = await client.callTool({ name: c.tool, arguments: c.args });
      assert.equal(result.isError, true, c.tool);
      const envelope = JSON.parse(result.content[0].text);
      assert.equal(envelope.error, "DRY_RUN", `${c.tool}: ${result.content[0].text}`);
      assert.ok(envelope.detail.request.method !== "GET", c.tool);
      assert.ok(!result.content[0].text.includes(KEY), "the key never comes back");
      if (tool.outputSchema) planned++;
    }
    assert.deepEqual(received, [], "nothing reached the tenant");
    assert.ok(planned >= 5, `${planned} plans of tools with an outputSchema`);
  } finally {
    await client.close();
    server.close();
  }
});
