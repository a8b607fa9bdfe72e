// Confirmation by a person (docs/safety.md) with the official MCP TypeScript SDK client
// (1.x, protocol 2025-11-25) driving the real binary over stdio: its elicitation
// handler accepts, declines or cancels, and a recording tenant shows that a destructive
// call sends its one request only when accepted (the reads that show the consequence
// are GETs). Tenant bodies are the sandbox's own, fetched with `molecule-mcp call
// --sandbox`. Run by .ci/run with the other SDK tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { execFileSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const BIN =
  process.env.MOLECULE_MCP_BIN ??
  new URL("../../target/debug/molecule-mcp", import.meta.url).pathname;
const KEY = "mol_test-confirm-0123456789";
const ROOT = "11111111-1111-4111-8111-111111111111";
const TOKEN = "44444444-4444-4444-8444-444444444444";

function sandbox(tool, args = {}) {
  const out = execFileSync(BIN, ["call", tool, "--sandbox", "--args", JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(out.toString());
}

const workspace = sandbox("get_workspace", { workspace_id: ROOT });
const workspaces = sandbox("list_workspaces");
const tokens = sandbox("list_org_tokens");
// The sandbox's token becomes the one this server uses: same prefix as KEY.
tokens.tokens[0].prefix = KEY.slice(0, 8);

function below(id) {
  const children = workspaces.filter((w) => w.parent_id === id);
  return children.length + children.reduce((n, c) => n + below(c.id), 0);
}

/** A recording tenant answering with the sandbox's bodies. */
async function tenant() {
  const received = [];
  const server = http.createServer((req, res) => {
    received.push({ method: req.method, url: req.url, name: req.headers["x-confirm-name"] });
    req.resume();
    req.on("end", () => {
      let body = "{}";
      if (req.method === "GET" && req.url === "/workspaces") body = JSON.stringify(workspaces);
      else if (req.method === "GET" && req.url.startsWith("/workspaces/")) body = JSON.stringify(workspace);
      else if (req.method === "GET" && req.url === "/org/tokens") body = JSON.stringify(tokens);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const writes = () => received.filter((r) => r.method !== "GET");
  return { server, url, received, writes };
}

/** A client that declares elicitation when `answer` is given; `asked` records the forms. */
async function connect(url, answer, args = []) {
  const transport = new StdioClientTransport({
    command: BIN,
    args,
    env: {
      PATH: process.env.PATH ?? "",
      MOLECULE_API_URL: url,
      MOLECULE_ORG_API_KEY: KEY,
      MOLECULE_ORG_ID: ROOT,
    },
    stderr: "ignore",
  });
  const capabilities = answer ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: "sdk-confirm", version: "0" }, { capabilities });
  const asked = [];
  if (answer) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params);
      return answer(request.params);
    });
  }
  await client.connect(transport);
  await client.listTools();
  return { client, asked };
}

const envelope = (result) => JSON.parse(result.content[0].text);

const DESTRUCTIVE = [
  ["deprovision_workspace", { workspace_id: ROOT }, "DELETE", `/workspaces/${ROOT}`],
  ["delete_workspace_secret", { workspace_id: ROOT, key: "OPENAI_API_KEY" }, "DELETE", `/workspaces/${ROOT}/secrets/OPENAI_API_KEY`],
  ["delete_org_secret", { key: "GITHUB_TOKEN" }, "DELETE", "/settings/secrets/GITHUB_TOKEN"],
  ["revoke_org_token", { id: TOKEN }, "DELETE", `/org/tokens/${TOKEN}`],
  ["create_org_from_template", { dir: "starter", mode: "reconcile" }, "POST", "/org/import"],
];

const accept = (params) =>
  params.requestedSchema.properties.name
    ? { action: "accept", content: { name: workspace.name } }
    : { action: "accept", content: { confirm: true } };

test("accepted: exactly the one request; the person saw the consequence", async () => {
  const t = await tenant();
  const { client, asked } = await connect(t.url, accept);
  try {
    for (const [tool, args, method, path] of DESTRUCTIVE) {
      t.received.length = 0;
      const result = await client.callTool({ name: tool, arguments: args });
      assert.ok(!result.isError, `${tool}: ${result.content[0].text}`);
      assert.deepEqual(t.writes().map((r) => `${r.method} ${r.url.split("?")[0]}`), [`${method} ${path}`], tool);
      assert.equal(result.content.length, 1, `${tool}: no "not confirmed" note`);
    }
    const [deprovision, secret, orgSecret, token, template] = asked.map((p) => p.message);
    assert.equal(asked.length, DESTRUCTIVE.length);
    assert.match(template, /create_org_from_template.*reconcile/);
    assert.match(deprovision, new RegExp(`“${workspace.name}”.*the ${below(ROOT)} sub-workspace`));
    assert.ok(below(ROOT) >= 1, "the sandbox root has sub-workspaces");
    assert.match(secret, /OPENAI_API_KEY.*restarts/);
    assert.match(orgSecret, /GITHUB_TOKEN/);
    assert.match(token, new RegExp(`prefix ${KEY.slice(0, 8)}.*this server itself uses`));
    assert.ok(!JSON.stringify(asked).includes(KEY), "the key is never shown");
  } finally {
    await client.close();
    t.server.close();
  }
});

test("the typed name is sent as X-Confirm-Name; a wrong one sends nothing", async () => {
  const t = await tenant();
  let typed = workspace.name;
  const { client } = await connect(t.url, () => ({ action: "accept", content: { name: typed } }));
  try {
    const result = await client.callTool({ name: "deprovision_workspace", arguments: { workspace_id: ROOT } });
    assert.ok(!result.isError, result.content[0].text);
    assert.deepEqual(t.writes().map((r) => r.name), [workspace.name]);
    t.received.length = 0;
    typed = `${workspace.name} (not quite)`;
    const wrong = await client.callTool({ name: "deprovision_workspace", arguments: { workspace_id: ROOT } });
    assert.equal(wrong.isError, true);
    assert.equal(envelope(wrong).error, "CONFIRMATION_DECLINED");
    assert.deepEqual(t.writes(), []);
  } finally {
    await client.close();
    t.server.close();
  }
});

for (const action of ["decline", "cancel"]) {
  test(`${action}: nothing is sent and the agent is told not to retry`, async () => {
    const t = await tenant();
    const { client, asked } = await connect(t.url, () => ({ action }));
    try {
      for (const [tool, args] of DESTRUCTIVE) {
        const result = await client.callTool({ name: tool, arguments: args });
        assert.equal(result.isError, true, tool);
        const e = envelope(result);
        assert.equal(e.error, "CONFIRMATION_DECLINED", tool);
        assert.match(e.detail, /Do not retry/);
      }
      assert.equal(asked.length, DESTRUCTIVE.length);
      assert.deepEqual(t.writes(), []);
    } finally {
      await client.close();
      t.server.close();
    }
  });
}

test("a client that cannot elicit: the call goes on, marked unconfirmed; --confirm-required refuses it", async () => {
  const t = await tenant();
  let { client } = await connect(t.url, null);
  try {
    const result = await client.callTool({ name: "delete_org_secret", arguments: { key: "K" } });
    assert.ok(!result.isError, result.content[0].text);
    assert.match(result.content.at(-1).text, /Not confirmed by a person/);
    assert.equal(t.writes().length, 1);
  } finally {
    await client.close();
  }
  t.received.length = 0;
  ({ client } = await connect(t.url, null, ["--confirm-required"]));
  try {
    for (const [tool, args] of DESTRUCTIVE) {
      const result = await client.callTool({ name: tool, arguments: args });
      assert.equal(envelope(result).error, "CONFIRMATION_UNAVAILABLE", tool);
    }
    assert.deepEqual(t.received, [], "nothing at all reached the tenant");
    // Reads and other writes are not covered by the default level.
    const read = await client.callTool({ name: "list_workspaces", arguments: {} });
    assert.ok(!read.isError);
  } finally {
    await client.close();
    t.server.close();
  }
});
