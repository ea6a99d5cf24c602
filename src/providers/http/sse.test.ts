import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ProviderError } from '../types.js';
import { ERROR_BODY_EXCERPT_CHARS, ERROR_BODY_READ_TIMEOUT_MS } from './errors.js';
import { preconnect } from './connection-pool.js';
import { postSse, SseParser, type SseEvent, type SseRequest } from './sse.js';

/** The events `chunks` complete, fed one after another to one parser. */
function parse(chunks: readonly Uint8Array[]): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) parser.push(c, out);
  return out;
}

const enc = new TextEncoder();

/** Every way of cutting `bytes` in two, plus one chunk per byte. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.slice(0, i), bytes.slice(i)]);
  out.push(Array.from(bytes, (b) => Uint8Array.of(b)));
  return out;
}

describe('SseParser', () => {
  const wire =
    '\uFEFF: keep-alive comment\r\n' +
    'event: message_start\r\n' +
    'data: {"a":1}\r\n' +
    '\r\n' +
    'data: line one\n' +
    'data:line two\n' +
    'id: 7\n' +
    '\n' +
    'data: café ☕ 🎉\r' +
    '\r' +
    'event: empty-data-ignored\n' +
    '\n' +
    'data: [DONE]\n\n';
  const expected: SseEvent[] = [
    { event: 'message_start', data: '{"a":1}' },
    { data: 'line one\nline two' },
    { data: 'café ☕ 🎉' },
    { data: '[DONE]' },
  ];

  it('parses events with CRLF, CR and LF line ends, multi-line data and comments', async () => {
    assert.deepEqual(await parse([enc.encode(wire)]), expected);
  });

  it('gives the same events wherever the stream is split, even inside CRLF or a UTF-8 sequence', async () => {
    for (const chunks of splits(enc.encode(wire))) {
      assert.deepEqual(await parse(chunks), expected, `split: ${chunks.map((c) => c.length).join('+')}`);
    }
  });

  it('discards an event that has no terminating blank line at end of stream', async () => {
    assert.deepEqual(await parse([enc.encode('data: a\n\ndata: partial\n')]), [{ data: 'a' }]);
  });

  it('keeps a data field with no colon as an empty line of data', async () => {
    assert.deepEqual(await parse([enc.encode('data\ndata: x\n\n')]), [{ data: '\nx' }]);
  });
});

// ---- postSse over node:http, against loopback servers ----

interface TestServer {
  readonly url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Connections closed so far. */
  closed: number;
  /** Requests received so far. */
  readonly requests: { method: string; headers: IncomingHttpHeaders; body: string; reusedConnection: boolean }[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A server on 127.0.0.1 (or `host`) that calls `handler` once each request body is in. */
async function serve(handler: Handler, host = '127.0.0.1'): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const seen = new WeakSet<Socket>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const socket = req.socket;
      ts.requests.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8'), reusedConnection: seen.has(socket) });
      seen.add(socket);
      handler(req, res, ts.requests.length - 1);
    });
  });
  server.keepAliveTimeout = 60_000; // the client, not the server, decides when pooled connections go
  server.on('connection', (s: Socket) => {
    ts.connections++;
    sockets.add(s);
    s.on('close', () => {
      ts.closed++;
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const ts: TestServer = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    connections: 0,
    closed: 0,
    requests: [],
    close: async () => {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
  servers.push(ts);
  return ts;
}

/** An SSE response head. */
function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
}

const SECRET = 'sk-test-SECRET-0123456789abcdef';

function sseRequest(url: string, extra: Partial<SseRequest> = {}): SseRequest {
  return {
    provider: 'test',
    url,
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json', accept: 'text/event-stream', 'x-extra': 'yes' },
    body: { hello: 'wörld' },
    idleTimeoutMs: 2_000,
    secrets: [SECRET],
    signal: new AbortController().signal,
    ...extra,
  };
}

interface Outcome {
  readonly events: SseEvent[];
  readonly error?: ProviderError;
}

/** Runs `postSse`; `stopAfter` events, the consumer breaks out. Non-ProviderError failures throw. */
async function run(req: SseRequest, stopAfter = Infinity): Promise<Outcome> {
  const events: SseEvent[] = [];
  try {
    for await (const ev of postSse(req)) {
      events.push(ev);
      if (events.length >= stopAfter) break;
    }
  } catch (err) {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.ok(!err.message.includes('SECRET'), `secret leaked: ${err.message}`);
    return { events, error: err };
  }
  return { events };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Answers with `events` SSE events, then ends. */
const simple =
  (events = 2): Handler =>
  (_req, res) => {
    sseHead(res);
    for (let i = 0; i < events; i++) res.write(`data: e${i}\n\n`);
    res.end();
  };

describe('postSse', () => {
  it('POSTs the JSON body with content-length and the given headers, and yields the events', async () => {
    const s = await serve(simple(3));
    const ac = new AbortController();
    const out = await run(sseRequest(`${s.url}/v1/chat?x=1`, { signal: ac.signal }));
    assert.deepEqual(out, { events: [{ data: 'e0' }, { data: 'e1' }, { data: 'e2' }] });
    const r = s.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.body, JSON.stringify({ hello: 'wörld' }));
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.authorization, `Bearer ${SECRET}`);
    assert.equal(r.headers['x-extra'], 'yes');
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0, 'listener left on the caller signal');
  });

  it('reuses one kept-alive connection across sequential requests', async () => {
    const s = await serve(simple());
    for (let i = 0; i < 3; i++) assert.equal((await run(sseRequest(s.url))).events.length, 2);
    assert.equal(s.connections, 1);
    assert.deepEqual(
      s.requests.map((r) => r.reusedConnection),
      [false, true, true],
    );
  });

  it('returns the connection to the pool when the consumer stops at the last event, once the body ends', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: a\n\ndata: [DONE]\n\n');
      setTimeout(() => res.end(), 50); // the terminator comes later than the last event
    });
    for (let i = 0; i < 2; i++) {
      const out = await run(sseRequest(s.url), 2);
      assert.deepEqual(out.events, [{ data: 'a' }, { data: '[DONE]' }]);
      await sleep(100);
    }
    assert.equal(s.connections, 1);
    assert.equal(s.closed, 0);
  });

  it('closes the connection when the consumer breaks out while the server keeps streaming', async () => {
    let writes = 0;
    const s = await serve((_req, res) => {
      sseHead(res);
      const t = setInterval(() => {
        if (res.destroyed) return clearInterval(t);
        writes++;
        res.write(`data: ${writes}\n\n`);
      }, 5);
      res.on('close', () => clearInterval(t));
    });
    const out = await run(sseRequest(s.url), 2);
    assert.equal(out.events.length, 2);
    await until(() => s.closed === 1, 'the server to see the connection close');
    const after = writes;
    await sleep(50);
    assert.equal(writes, after, 'the response kept flowing');
    // The next request cannot have the abandoned connection.
    s.requests.length = 0;
    await run(sseRequest(s.url), 1);
    assert.equal(s.connections, 2);
    assert.equal(s.requests[0]!.reusedConnection, false);
  });

  it('closes the connection when the consumer breaks out and the server goes silent', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: a\n\ndata: b\n\n'); // then nothing, connection left open
    });
    const out = await run(sseRequest(s.url, { idleTimeoutMs: 60_000 }), 1);
    assert.deepEqual(out.events, [{ data: 'a' }]);
    await until(() => s.closed === 1, 'the server to see the connection close');
  });

  it('on abort mid-stream returns quietly, destroys the request, and the server sees the connection close', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: a\n\n'); // then silence
    });
    const ac = new AbortController();
    const events: SseEvent[] = [];
    const run0 = (async () => {
      for await (const ev of postSse(sseRequest(s.url, { signal: ac.signal }))) events.push(ev);
    })();
    await until(() => events.length === 1, 'the first event');
    ac.abort();
    await run0;
    assert.deepEqual(events, [{ data: 'a' }]);
    // At once, not after the grace a consumer that stops reading gets.
    await until(() => s.closed === 1, 'the server to see the connection close', 250);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('on abort while waiting for the response returns quietly and closes the connection', async () => {
    const s = await serve(() => {
      // never answers
    });
    const ac = new AbortController();
    const out = run(sseRequest(s.url, { signal: ac.signal }));
    await until(() => s.requests.length === 1, 'the request');
    ac.abort();
    assert.deepEqual(await out, { events: [] });
    await until(() => s.closed === 1, 'the server to see the connection close');
  });

  it('on abort while the consumer holds an event returns quietly and closes the connection', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: e0\n\ndata: e1\n\n'); // then silence
    });
    const ac = new AbortController();
    const events: SseEvent[] = [];
    for await (const ev of postSse(sseRequest(s.url, { signal: ac.signal }))) {
      events.push(ev);
      ac.abort();
    }
    assert.deepEqual(events, [{ data: 'e0' }]);
    await until(() => s.closed === 1, 'the server to see the connection close', 250);
  });

  it('sends nothing when already aborted', async () => {
    const s = await serve(simple());
    assert.deepEqual(await run(sseRequest(s.url, { signal: AbortSignal.abort() })), { events: [] });
    assert.equal(s.connections, 0);
  });

  it('delivers every event, in order, to a slow consumer of a burst', async () => {
    const n = 500;
    const s = await serve((_req, res) => {
      sseHead(res);
      let body = '';
      for (let i = 0; i < n; i++) body += `data: ${i}\n\n`;
      res.end(body);
    });
    const got: string[] = [];
    for await (const ev of postSse(sseRequest(s.url))) {
      got.push(ev.data);
      if (got.length % 50 === 0) await sleep(1);
    }
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => String(i)));
  });

  it('maps non-2xx responses as before: status, retryability, redacted excerpt; Retry-After does not change it', async () => {
    const cases = [
      { status: 429, headers: { 'retry-after': '7' }, body: `{"error":{"message":"slow down, ${SECRET} / Bearer abc.def please"}}`, retryable: true },
      { status: 503, headers: { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }, body: '', retryable: true },
      { status: 401, headers: {}, body: `Incorrect API key provided: ${SECRET}`, retryable: false },
      { status: 400, headers: {}, body: '  bad\n\n  request  ', retryable: false },
      { status: 409, headers: {}, body: 'conflict', retryable: true },
    ];
    const s = await serve((_req, res, i) => {
      const c = cases[i]!;
      res.writeHead(c.status, { 'content-type': 'application/json', ...c.headers });
      res.end(c.body);
    });
    const messages: string[] = [];
    for (const c of cases) {
      const { events, error } = await run(sseRequest(s.url));
      assert.deepEqual(events, []);
      assert.equal(error?.retryable, c.retryable, `HTTP ${c.status}`);
      messages.push(error!.message);
    }
    assert.deepEqual(messages, [
      'test: HTTP 429: {"error":{"message":"slow down, [redacted] / [redacted] please"}}',
      'test: HTTP 503',
      'test: HTTP 401: Incorrect API key provided: [redacted]',
      'test: HTTP 400: bad request',
      'test: HTTP 409: conflict',
    ]);
    assert.equal(s.connections, 1, 'a fully read error body leaves the connection reusable');
  });

  it('cuts a huge error body to the excerpt without reading it all, and does not wait for a stalled one', async () => {
    let sent = 0;
    const s = await serve((_req, res, i) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      if (i === 1) {
        res.write('partial error text'); // then stalls
        return;
      }
      const chunk = 'x'.repeat(16 * 1024);
      const pump = (): void => {
        while (!res.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const big = await run(sseRequest(s.url));
    assert.equal(big.error?.retryable, true);
    assert.equal(big.error?.message, `test: HTTP 500: ${'x'.repeat(ERROR_BODY_EXCERPT_CHARS)}…`);
    assert.ok(sent < 64 * 1024 * 1024, 'read the whole body');
    const t0 = Date.now();
    const stalled = await run(sseRequest(s.url));
    assert.equal(stalled.error?.message, 'test: HTTP 500: partial error text');
    assert.ok(Date.now() - t0 < ERROR_BODY_READ_TIMEOUT_MS + 1_000);
  });

  it('fails retryably when the server resets the connection mid-stream, after the events so far', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: a\n\n', () => setTimeout(() => res.socket?.resetAndDestroy(), 20));
    });
    const ac = new AbortController();
    const out = await run(sseRequest(s.url, { signal: ac.signal }));
    assert.deepEqual(out.events, [{ data: 'a' }]);
    assert.equal(out.error?.retryable, true);
    assert.match(out.error?.message ?? '', /^test: connection failed: connection dropped mid-stream: .*ECONNRESET/);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  });

  it('fails retryably when the server closes the connection before the body ends', async () => {
    const s = await serve((_req, res) => {
      sseHead(res);
      res.write('data: a\n\ndata: partial', () => setTimeout(() => res.socket?.end(), 20));
    });
    const out = await run(sseRequest(s.url));
    assert.deepEqual(out.events, [{ data: 'a' }]);
    assert.equal(out.error?.retryable, true);
    assert.match(out.error?.message ?? '', /connection failed/);
  });

  it('fails retryably when the connection is refused', async () => {
    const s = await serve(simple());
    await s.close();
    const out = await run(sseRequest(s.url));
    assert.equal(out.error?.retryable, true);
    assert.match(out.error?.message ?? '', /^test: connection failed: .*ECONNREFUSED/);
  });

  it('times out retryably when there are no headers, or no next event, within the idle deadline', async () => {
    const s = await serve((_req, res, i) => {
      if (i === 0) return; // no response at all
      sseHead(res);
      res.write('data: a\n\n'); // then silence
    });
    for (const expected of [[], [{ data: 'a' }]]) {
      const t0 = Date.now();
      const out = await run(sseRequest(s.url, { idleTimeoutMs: 150 }));
      assert.deepEqual(out.events, expected);
      assert.equal(out.error?.retryable, true);
      assert.equal(out.error?.message, 'test: timed out: no data for 150 ms');
      assert.ok(Date.now() - t0 >= 140);
    }
    await until(() => s.closed === 2, 'both timed-out connections to close');
  });

  it('retries on a new connection when the server drops a pooled one as it is reused', async () => {
    const s = await serve((req, res) => {
      if (s.requests.at(-1)!.reusedConnection) {
        req.socket.destroy(); // as a server closing an idle keep-alive connection would
        return;
      }
      simple()(req, res, 0);
    });
    assert.equal((await run(sseRequest(s.url))).events.length, 2);
    const second = await run(sseRequest(s.url));
    assert.equal(second.error, undefined);
    assert.equal(second.events.length, 2);
    assert.equal(s.connections, 2);
  });

  it('rejects URLs other than http(s), and headers node:http refuses, non-retryably, sending nothing', async () => {
    const s = await serve(simple());
    for (const url of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'not a url', `http://user:${SECRET}@127.0.0.1:1/`]) {
      const out = await run(sseRequest(url));
      assert.equal(out.error?.retryable, false, url);
    }
    const ac = new AbortController();
    const bad = await run(sseRequest(s.url, { headers: { authorization: `Bearer ${SECRET}\n` }, signal: ac.signal }));
    assert.equal(bad.error?.retryable, false);
    assert.match(bad.error?.message ?? '', /^test: invalid request: /);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    await sleep(20);
    assert.equal(s.connections, 0);
  });

  it('connects to an IPv6 literal', async (t) => {
    let s: TestServer;
    try {
      s = await serve(simple(), '::1');
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    assert.equal((await run(sseRequest(s.url))).events.length, 2);
  });

  it('does not keep the process alive with a pooled idle connection', async () => {
    const s = await serve(simple());
    const sseModule = new URL('./sse.ts', import.meta.url).href;
    const script = `
      import { postSse } from ${JSON.stringify(sseModule)};
      const req = { provider: 't', url: ${JSON.stringify(s.url)}, headers: {}, body: {}, idleTimeoutMs: 5000, secrets: [], signal: new AbortController().signal };
      let n = 0;
      for await (const _ of postSse(req)) n++;
      console.log('events', n);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 15_000);
      child.on('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!exited) child.kill();
    assert.ok(exited, `the child did not exit: ${output}`);
    assert.match(output, /events 2/);
    // The child went away with its connection still pooled (the server never closed it).
    assert.equal(s.requests.length, 1);
    assert.equal(s.connections, 1);
  });
});

describe('preconnect', () => {
  it('opens the connection ahead of the request, and the request goes out on it', async () => {
    const s = await serve(simple());
    preconnect(`${s.url}/v1/chat`);
    await until(() => s.connections === 1, 'the preconnected socket');
    preconnect(`${s.url}/v1/chat`); // one is being readied: no second
    await sleep(50);
    assert.equal(s.connections, 1);
    assert.equal((await run(sseRequest(`${s.url}/v1/chat`))).events.length, 2);
    assert.equal(s.connections, 1, 'no new connection for the request');
    assert.equal(s.requests.length, 1);
  });

  it('does nothing while the pool holds a free connection to the origin', async () => {
    const s = await serve(simple());
    assert.equal((await run(sseRequest(s.url))).events.length, 2);
    preconnect(s.url);
    await sleep(50);
    assert.equal(s.connections, 1);
    assert.equal((await run(sseRequest(s.url))).events.length, 2);
    assert.deepEqual(
      s.requests.map((r) => r.reusedConnection),
      [false, true],
    );
  });

  it('closes a preconnected socket no request took after its time; the next request connects anew', async () => {
    const s = await serve(simple());
    preconnect(s.url, 100);
    await until(() => s.connections === 1, 'the preconnected socket');
    await until(() => s.closed === 1, 'its close after 100 ms');
    assert.equal((await run(sseRequest(s.url))).events.length, 2);
    assert.equal(s.connections, 2);
  });

  it('sends the request again on a new connection when the server drops the preconnected one as it is used', async () => {
    const s = await serve((req, res, i) => {
      if (i === 0) {
        req.socket.destroy(); // as a server closing a connection that sat unused
        return;
      }
      simple()(req, res, i);
    });
    preconnect(s.url);
    await until(() => s.connections === 1, 'the preconnected socket');
    const out = await run(sseRequest(s.url));
    assert.equal(out.error, undefined);
    assert.equal(out.events.length, 2);
    assert.equal(s.connections, 2);
  });

  it('drops a failure silently: the request meets it and reports it', async () => {
    const s = await serve(simple());
    const url = s.url;
    await s.close();
    preconnect(url); // refused
    preconnect('not a url');
    preconnect('ftp://example.com/');
    await sleep(50);
    const out = await run(sseRequest(url));
    assert.ok(out.error, 'the request fails on its own');
  });

  it('readies TLS connections too (checked against the server certificate, SNI sent)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'parley-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    if (made.status !== 0) {
      t.skip('no openssl to make a test certificate');
      return;
    }
    let connections = 0;
    const names: (string | false)[] = [];
    const server = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      req.resume();
      req.on('end', () => simple()(req, res, 0));
    });
    server.keepAliveTimeout = 60_000;
    server.on('secureConnection', (socket: TLSSocket) => {
      connections++;
      names.push((socket as TLSSocket & { servername?: string | false }).servername ?? false);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // In a child that trusts the test certificate (NODE_EXTRA_CA_CERTS is read at start-up).
      const poolModule = new URL('./connection-pool.ts', import.meta.url).href;
      const sseModule = new URL('./sse.ts', import.meta.url).href;
      const url = `https://localhost:${port}/v1/chat`;
      const script = `
        import { preconnect } from ${JSON.stringify(poolModule)};
        import { postSse } from ${JSON.stringify(sseModule)};
        preconnect(${JSON.stringify(url)});
        await new Promise((r) => setTimeout(r, 300));
        const req = { provider: 't', url: ${JSON.stringify(url)}, headers: {}, body: {}, idleTimeoutMs: 5000, secrets: [], signal: new AbortController().signal };
        let n = 0;
        for await (const _ of postSse(req)) n++;
        console.log('events', n);
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } });
      let output = '';
      child.stdout.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr.on('data', (b: Buffer) => (output += b.toString()));
      await new Promise<void>((resolve) => child.on('exit', () => resolve()));
      assert.match(output, /events 2/);
      assert.equal(connections, 1, 'the request went out on the preconnected TLS connection');
      assert.deepEqual(names, ['localhost']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
