import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { bodyForModel, createHttpTool, MAX_MODEL_RESULT_CHARS, verifySignature } from './http-tool.js';
import { runTool } from './registry.js';
import { BUSINESS, CALLER, contextFor, tenantWith } from './test-support.js';

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
}

let server: http.Server;
let base: string;
const seen: Seen[] = [];
const sockets = new Set<Socket>();

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      seen.push({ url: req.url ?? '', headers: req.headers, raw });
      const json = (status: number, v: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      switch (req.url) {
        case '/order':
          return json(200, { status: 'shipped', eta: '2026-03-12' });
        case '/text':
          res.writeHead(200, { 'content-type': 'text/plain' });
          return void res.end('Table for 4 is available at 19:30.');
        case '/huge':
          return json(200, { items: 'z'.repeat(10_000) });
        case '/missing':
          return json(404, { error: 'no order A-99' });
        case '/hang':
          return;
        default:
          res.writeHead(503);
          return void res.end();
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  for (const s of sockets) s.destroy();
  server.close();
  await once(server, 'close');
});

const secret = 'tool-secret-0123456789';

function setup(path: string, o: { allowPrivate?: boolean; secret?: string; timeoutMs?: number; headers?: Record<string, string> } = {}) {
  const toolConfig = {
    type: 'http' as const,
    name: 'lookup_order',
    description: 'Look up an order by its number.',
    parameters: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] },
    url: `${base}${path}`,
    ...(o.secret ? { secret: o.secret } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.headers ? { headers: o.headers } : {}),
  };
  const tenant = tenantWith([toolConfig], { network: { allowPrivateAddresses: o.allowPrivate ?? true } });
  const cfg = tenant.agents['default']!.tools[0];
  assert.ok(cfg?.type === 'http');
  return { tool: createHttpTool(cfg), ctx: contextFor(tenant) };
}

describe('HTTP tools', () => {
  it('POSTs the tool name, arguments and call identity, signed, and gives the JSON answer to the model', async () => {
    const { tool, ctx } = setup('/order', { secret, headers: { Authorization: 'Bearer tenant-key' } });
    const result = await tool.run({ order: 'A-17' }, ctx);
    assert.deepEqual(result, { ok: true, data: { status: 'shipped', eta: '2026-03-12' } });

    const req = seen.at(-1)!;
    assert.deepEqual(JSON.parse(req.raw), {
      tool: 'lookup_order',
      arguments: { order: 'A-17' },
      call: { id: 'call_test', tenantId: 'acme', agentId: 'default', remoteNumber: CALLER, localNumber: BUSINESS },
    });
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-parley-tool'], 'lookup_order');
    assert.equal(req.headers['authorization'], 'Bearer tenant-key');
    const header = req.headers['x-parley-signature'];
    assert.equal(typeof header, 'string');
    const nowSeconds = Math.floor(ctx.nowMs() / 1000);
    assert.equal(verifySignature(secret, header as string, req.raw, { nowSeconds }), true);
    assert.equal(verifySignature('some-other-secret-xx', header as string, req.raw, { nowSeconds }), false);
  });

  it('sends no signature without a secret, and a tenant header cannot forge one', async () => {
    const { tool, ctx } = setup('/order', { headers: { 'x-parley-signature': 'forged', 'X-PARLEY-TOOL': 'other' } });
    await tool.run({ order: 'A-17' }, ctx);
    const req = seen.at(-1)!;
    assert.equal(req.headers['x-parley-signature'], undefined);
    assert.equal(req.headers['x-parley-tool'], 'lookup_order');
  });

  it('answers non-2xx statuses as errors, with the endpoint’s own message when it gives one', async () => {
    const down = setup('/down');
    assert.deepEqual(await down.tool.run({ order: 'x' }, down.ctx), { ok: false, error: 'HTTP 503' });
    const missing = setup('/missing');
    assert.deepEqual(await missing.tool.run({ order: 'A-99' }, missing.ctx), { ok: false, error: 'HTTP 404: no order A-99' });
  });

  it('gives text answers as text and cuts huge answers for the model', async () => {
    const text = setup('/text');
    assert.deepEqual(await text.tool.run({ order: 'x' }, text.ctx), { ok: true, data: 'Table for 4 is available at 19:30.' });
    const huge = setup('/huge');
    const r = await huge.tool.run({ order: 'x' }, huge.ctx);
    assert.ok(r.ok && typeof r.data === 'string');
    assert.ok((r.data as string).length <= MAX_MODEL_RESULT_CHARS + 20);
    assert.match(r.data as string, /… \(truncated\)$/);
  });

  it('refuses a loopback URL for a tenant that does not allow private addresses, without sending', async () => {
    const { tool, ctx } = setup('/order', { allowPrivate: false });
    const before = seen.length;
    const r = await tool.run({ order: 'A-17' }, ctx);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /lookup_order endpoint was refused: 127\.0\.0\.1 is a private, loopback or reserved address/);
    assert.equal(seen.length, before);
  });

  it('times out against an endpoint that never answers', async () => {
    const { tool, ctx } = setup('/hang', { timeoutMs: 150 });
    assert.deepEqual(await tool.run({ order: 'x' }, ctx), { ok: false, error: 'the lookup_order endpoint did not answer within 150 ms' });
  });

  it('offers the model the tenant’s schema closed to undeclared arguments, and the runner enforces it', async () => {
    const { tool, ctx } = setup('/order');
    assert.equal(tool.spec.parameters['additionalProperties'], false);
    assert.equal(tool.spec.description, 'Look up an order by its number.');
    const before = seen.length;
    const r = await runTool(tool, { order: 'A-17', admin: true }, ctx);
    assert.deepEqual(r, { ok: false, error: 'invalid arguments: arguments.admin is not an accepted argument (accepted: order)' });
    assert.equal(seen.length, before);
  });
});

describe('bodyForModel', () => {
  it('parses JSON, keeps text, and maps an empty body to null', () => {
    assert.deepEqual(bodyForModel('{"a":1}'), { a: 1 });
    assert.equal(bodyForModel('plain words'), 'plain words');
    assert.equal(bodyForModel('  '), null);
  });
});
