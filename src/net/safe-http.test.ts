import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpTimeoutError, isPrivateAddress, postJson, UnsafeUrlError } from './safe-http.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback server whose behaviour each test picks by path. */
let server: http.Server;
let port: number;
const seen: Seen[] = [];
const sockets = new Set<Socket>();

before(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      switch (req.url) {
        case '/echo':
          res.writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
          res.end(JSON.stringify({ got: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
          return;
        case '/redirect':
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
          res.end();
          return;
        case '/big':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('x'.repeat(100_000));
          return;
        case '/big-chunked':
          // No content-length: the cap must hold while streaming.
          res.writeHead(200, { 'content-type': 'text/plain' });
          for (let i = 0; i < 20; i++) res.write('y'.repeat(10_000));
          res.end();
          return;
        case '/hang':
          return; // never answers
        default:
          res.writeHead(503);
          res.end('down');
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const s of sockets) s.destroy();
  server.close();
  await once(server, 'close');
});

const allowed = { timeoutMs: 5_000, allowPrivateAddresses: true } as const;
const guarded = { timeoutMs: 5_000, allowPrivateAddresses: false } as const;

describe('isPrivateAddress', () => {
  const refused = [
    '127.0.0.1', '127.255.1.2', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1',
    '255.255.255.255', '198.18.0.1', '192.0.2.10',
    '::', '::1', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '::127.0.0.1',
    '64:ff9b::10.0.0.1', '2002:0a00:0001::1', '2001:db8::1', '2001::1',
    'localhost', 'not an ip', '',
  ];
  const publicOnes = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '169.255.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8', '2002:0808:0808::1'];

  for (const ip of refused) it(`refuses ${JSON.stringify(ip)}`, () => assert.equal(isPrivateAddress(ip), true));
  for (const ip of publicOnes) it(`accepts the public address ${ip}`, () => assert.equal(isPrivateAddress(ip), false));
});

describe('postJson', () => {
  it('refuses a literal loopback address when private addresses are not allowed, without sending', async () => {
    const before = seen.length;
    await assert.rejects(postJson(`http://127.0.0.1:${port}/echo`, { a: 1 }, guarded), UnsafeUrlError);
    await assert.rejects(postJson(`http://[::1]:${port}/echo`, { a: 1 }, guarded), UnsafeUrlError);
    assert.equal(seen.length, before);
  });

  it('refuses other spellings of loopback that the URL parser normalises', async () => {
    await assert.rejects(postJson(`http://0x7f.1:${port}/echo`, {}, guarded), UnsafeUrlError);
    await assert.rejects(postJson(`http://2130706433:${port}/echo`, {}, guarded), UnsafeUrlError);
    await assert.rejects(postJson(`http://[::ffff:127.0.0.1]:${port}/echo`, {}, guarded), UnsafeUrlError);
  });

  it('refuses a host name that resolves to loopback, naming the address', async () => {
    const before = seen.length;
    await assert.rejects(postJson(`http://localhost:${port}/echo`, {}, guarded), (err: unknown) => {
      assert.ok(err instanceof UnsafeUrlError);
      assert.match(err.message, /localhost resolves to (127\.0\.0\.1|::1)/);
      return true;
    });
    assert.equal(seen.length, before);
  });

  it('refuses schemes other than http and https, and malformed URLs', async () => {
    await assert.rejects(postJson('ftp://example.com/x', {}, allowed), /ftp: URLs are not allowed/);
    await assert.rejects(postJson('file:///etc/passwd', {}, allowed), UnsafeUrlError);
    await assert.rejects(postJson('not a url', {}, allowed), UnsafeUrlError);
  });

  it('posts JSON to a loopback server when private addresses are allowed, by IP and by name', async () => {
    const res = await postJson(`http://127.0.0.1:${port}/echo`, { hello: 'wörld' }, { ...allowed, headers: { 'X-Custom': 'yes', 'Content-Type': 'text/evil' } });
    assert.equal(res.status, 201);
    assert.deepEqual(JSON.parse(res.body), { got: { hello: 'wörld' } });
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['x-multi'], 'a, b');
    const req = seen.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-custom'], 'yes');
    assert.equal(Number(req.headers['content-length']), Buffer.byteLength(req.body));

    const byName = await postJson(`http://localhost:${port}/echo`, [1, 2], allowed);
    assert.deepEqual(JSON.parse(byName.body), { got: [1, 2] });
  });

  it('returns a redirect as is instead of following it', async () => {
    const res = await postJson(`http://127.0.0.1:${port}/redirect`, {}, allowed);
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], 'http://169.254.169.254/latest/meta-data/');
  });

  it('returns error statuses with their body', async () => {
    const res = await postJson(`http://127.0.0.1:${port}/nope`, {}, allowed);
    assert.equal(res.status, 503);
    assert.equal(res.body, 'down');
  });

  it('times out against a server that never answers', async () => {
    await assert.rejects(postJson(`http://127.0.0.1:${port}/hang`, {}, { ...allowed, timeoutMs: 150 }), HttpTimeoutError);
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    const p = postJson(`http://127.0.0.1:${port}/hang`, {}, { ...allowed, signal: ac.signal });
    ac.abort(new Error('call ended'));
    await assert.rejects(p, /call ended/);
  });

  it('cuts off response bodies over the cap, declared or streamed', async () => {
    await assert.rejects(postJson(`http://127.0.0.1:${port}/big`, {}, allowed), /exceeds the 65536-byte limit/);
    await assert.rejects(postJson(`http://127.0.0.1:${port}/big-chunked`, {}, allowed), /exceeds the 65536-byte limit/);
    const ok = await postJson(`http://127.0.0.1:${port}/big`, {}, { ...allowed, maxResponseBytes: 200_000 });
    assert.equal(ok.body.length, 100_000);
  });

  it('rejects invalid header values with a clear error instead of throwing', async () => {
    await assert.rejects(postJson(`http://127.0.0.1:${port}/echo`, {}, { ...allowed, headers: { 'X-Bad': 'line\nbreak' } }), /invalid request/);
  });
});
