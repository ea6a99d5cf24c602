import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { CloseCode, WebSocketConnection, WebSocketProtocolError } from './websocket-connection.js';
import { completeHandshake, websocketAccept } from './websocket-handshake.js';

const MAX_PAYLOAD = 70_000;

/** What the server side of each connection saw. */
interface Seen {
  readonly messages: { text: string; binary: boolean; bytes: number }[];
  readonly errors: WebSocketProtocolError[];
  closed?: { code: number; reason: string };
  readonly conn: WebSocketConnection;
  readonly done: Promise<void>;
}

let server: Server;
let port = 0;
const seen: Seen[] = [];

before(async () => {
  server = createServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req, socket, head) => {
    if (!completeHandshake(req, socket)) return;
    const conn = new WebSocketConnection(socket, head, { maxPayload: MAX_PAYLOAD });
    let finish!: () => void;
    const s: Seen = { messages: [], errors: [], conn, done: new Promise((r) => (finish = r)) };
    seen.push(s);
    conn.start({
      message(data, binary) {
        const text = data.toString('utf8');
        s.messages.push({ text, binary, bytes: data.length });
        // Echo, so clients see what arrived; "close:<code>" asks the server to close.
        if (text.startsWith('close:')) conn.close(Number(text.slice(6)), 'asked to');
        else if (text === 'throw') throw new Error('handler bug');
        else if (data.length < 1000) conn.send(binary ? Buffer.from(data) : `echo ${text}`, binary);
        else conn.send(`got ${data.length} bytes`);
      },
      error: (err) => s.errors.push(err),
      close(code, reason) {
        s.closed = { code, reason };
        finish();
      },
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

after(() => server.close());

async function wsClient(): Promise<{ ws: WebSocket; server: Seen; next(): Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const inbox: string[] = [];
  const waiters: ((s: string) => void)[] = [];
  ws.on('message', (d) => {
    const w = waiters.shift();
    if (w) w(d.toString());
    else inbox.push(d.toString());
  });
  await once(ws, 'open');
  // The server's 'upgrade' ran before the client saw 101, so its record exists.
  const s = seen[seen.length - 1]!;
  return { ws, server: s, next: () => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((r) => waiters.push(r))) };
}

/** A client frame as RFC 6455 §5.2 lays it out: masked unless told otherwise. */
function frame(opcode: number, payload: Buffer | string, o: { fin?: boolean; mask?: boolean; rsv?: number; length?: 'long' } = {}): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = o.mask === false ? undefined : Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const len = body.length;
  const ext = o.length === 'long' ? 8 : len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = (o.fin === false ? 0 : 0x80) | ((o.rsv ?? 0) << 4) | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  const out = Buffer.concat([head, body]);
  if (mask) {
    mask.copy(out, 2 + ext);
    for (let i = 0; i < len; i++) out[2 + ext + 4 + i]! ^= mask[i & 3]!;
  }
  return out;
}

/** A raw TCP client after a valid handshake: what it receives, parsed into server frames. */
async function rawClient(): Promise<{ sock: Socket; server: Seen; frames(atLeast?: number): Promise<{ opcode: number; payload: Buffer }[]>; ended: Promise<void> }> {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.setNoDelay(true);
  const key = Buffer.alloc(16, 7).toString('base64');
  sock.write(`GET /x HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buf = Buffer.alloc(0);
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  sock.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  while (buf.indexOf('\r\n\r\n') < 0) await new Promise((r) => setTimeout(r, 2));
  const head = buf.subarray(0, buf.indexOf('\r\n\r\n')).toString();
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.ok(head.includes(`Sec-WebSocket-Accept: ${websocketAccept(key)}`));
  buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4);
  const server = seen[seen.length - 1]!;
  return {
    sock,
    server,
    ended,
    /** The frames received so far, once there are `atLeast` (or after 2 s). */
    async frames(atLeast = 1) {
      for (let waited = 0; waited < 2000 && parse().length < atLeast; waited += 5) await new Promise((r) => setTimeout(r, 5));
      return parse();
    },
  };
  function parse(): { opcode: number; payload: Buffer }[] {
      const out: { opcode: number; payload: Buffer }[] = [];
      let off = 0;
      while (off + 2 <= buf.length) {
        let len = buf[off + 1]! & 0x7f;
        let h = 2;
        if (len === 126) {
          len = buf.readUInt16BE(off + 2);
          h = 4;
        }
        out.push({ opcode: buf[off]! & 0x0f, payload: buf.subarray(off + h, off + h + len) });
        off += h + len;
      }
      return out;
  }
}

test('the accept key matches the RFC 6455 example', () => {
  assert.equal(websocketAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('a standard client exchanges text and binary messages of every length encoding', async () => {
  const c = await wsClient();
  c.ws.send('hello');
  assert.equal(await c.next(), 'echo hello');
  c.ws.send('ünïcødé ✓');
  assert.equal(await c.next(), 'echo ünïcødé ✓');
  c.ws.send(Buffer.from([1, 2, 3]));
  assert.equal(await c.next(), '\u0001\u0002\u0003');
  c.ws.send('x'.repeat(300)); // 16-bit length
  assert.equal(await c.next(), `echo ${'x'.repeat(300)}`);
  c.ws.send('y'.repeat(66_000)); // 64-bit length
  assert.equal(await c.next(), 'got 66000 bytes');
  assert.deepEqual(
    c.server.messages.map((m) => [m.bytes, m.binary]),
    [
      [5, false],
      [Buffer.byteLength('ünïcødé ✓'), false],
      [3, true],
      [300, false],
      [66_000, false],
    ],
  );
  c.ws.close(4000, 'bye');
  await c.server.done;
  assert.deepEqual(c.server.closed, { code: 4000, reason: 'bye' });
  assert.deepEqual(c.server.errors, []);
});

test('the server closes with its code and reason, and the client sees them', async () => {
  const c = await wsClient();
  const closed = once(c.ws, 'close');
  c.ws.send('close:1000');
  const [code, reason] = (await closed) as [number, Buffer];
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'asked to');
  await c.server.done;
  assert.equal(c.server.closed?.code, 1000);
});

test('fragmented messages are reassembled, with pings answered between the fragments', async () => {
  const c = await wsClient();
  const pong = once(c.ws, 'pong');
  c.ws.send('frag', { fin: false });
  c.ws.ping('are you there');
  c.ws.send('ment', { fin: false });
  c.ws.send('ed', { fin: true });
  assert.equal(((await pong)[0] as Buffer).toString(), 'are you there');
  assert.equal(await c.next(), 'echo fragmented');
  c.ws.terminate();
  await c.server.done;
  assert.equal(c.server.closed?.code, CloseCode.abnormal, 'a socket that just goes away is 1006');
});

test('frames arriving a byte at a time, or many to a chunk, come out whole', async () => {
  const r = await rawClient();
  const bytes = Buffer.concat([frame(1, 'one'), frame(1, 'two'.repeat(50)), frame(1, 'three')]);
  for (const b of bytes) {
    r.sock.write(Buffer.from([b]));
    await new Promise((res) => setImmediate(res));
  }
  r.sock.write(Buffer.concat([frame(1, 'a'), frame(1, 'b'), frame(1, 'c', { fin: false }), frame(0, 'd')]));
  const frames = await r.frames(6);
  assert.deepEqual(
    frames.map((f) => f.payload.toString()),
    ['echo one', `echo ${'two'.repeat(50)}`, 'echo three', 'echo a', 'echo b', 'echo cd'],
  );
  r.sock.end(frame(8, Buffer.from([0x03, 0xe8])));
  await r.server.done;
  assert.equal(r.server.closed?.code, 1000);
});

test('incomplete frames and fragments survive other connections reading into the shared buffer', async () => {
  const a = await rawClient();
  const b = await rawClient();
  assert.ok(a.server.conn.sharedReads && b.server.conn.sharedReads, 'plain TCP sockets read into the shared buffer on this Node');
  const whole = frame(1, 'x'.repeat(300));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
  // a: half a frame, then the first fragment of a message; b overwrites the shared buffer in between.
  a.sock.write(whole.subarray(0, 150));
  await settle();
  b.sock.write(frame(1, 'y'.repeat(600)));
  await settle();
  a.sock.write(Buffer.concat([whole.subarray(150), frame(1, 'first ', { fin: false })]));
  await settle();
  b.sock.write(frame(1, 'z'.repeat(600)));
  await settle();
  a.sock.write(frame(0, 'second'));
  const frames = await a.frames(2);
  assert.deepEqual(frames.map((f) => f.payload.toString()), [`echo ${'x'.repeat(300)}`, 'echo first second']);
  assert.deepEqual(b.server.messages.map((m) => m.text), ['y'.repeat(600), 'z'.repeat(600)]);
  a.sock.destroy();
  b.sock.destroy();
  await Promise.all([a.server.done, b.server.done]);
});

/** Sends `bytes` after the handshake and expects the server to close with `code`. */
async function expectViolation(bytes: Buffer, code: number, message: RegExp): Promise<void> {
  const r = await rawClient();
  r.sock.write(bytes);
  await r.server.done;
  const frames = await r.frames();
  const close = frames.find((f) => f.opcode === 8);
  assert.ok(close, 'a close frame is sent');
  assert.equal(close.payload.readUInt16BE(0), code);
  assert.equal(r.server.errors.length, 1);
  assert.equal(r.server.errors[0]!.closeCode, code);
  assert.match(r.server.errors[0]!.message, message);
  assert.deepEqual(r.server.messages, [], 'nothing after the violation is delivered');
  await r.ended;
}

test('an unmasked client frame is a protocol error (1002)', () => expectViolation(frame(1, 'hi', { mask: false }), 1002, /masked/));
test('RSV bits without an extension are a protocol error', () => expectViolation(frame(1, 'hi', { rsv: 4 }), 1002, /RSV/));
test('an unknown opcode is a protocol error', () => expectViolation(frame(3, 'hi'), 1002, /opcode 3/));
test('a fragmented ping is a protocol error', () => expectViolation(frame(9, 'hi', { fin: false }), 1002, /fragmented/));
test('a ping longer than 125 bytes is a protocol error', () => expectViolation(frame(9, 'p'.repeat(126)), 1002, /125/));
test('a continuation with nothing to continue is a protocol error', () => expectViolation(frame(0, 'hi'), 1002, /continuation/));
test('a new message inside a fragmented one is a protocol error', () =>
  expectViolation(Buffer.concat([frame(1, 'a', { fin: false }), frame(1, 'b')]), 1002, /inside a fragmented/));
test('invalid UTF-8 in a text message closes with 1007', () => expectViolation(frame(1, Buffer.from([0x68, 0xc3, 0x28])), 1007, /UTF-8/));
test('a close code that may not be sent is a protocol error', () => expectViolation(frame(8, Buffer.from([0x03, 0xed])), 1002, /close code 1005/));

test('a message over the limit closes with 1009 as soon as its header arrives', async () => {
  // Only the header is sent: the server must not wait for (or buffer) the body to refuse it.
  const header = frame(2, Buffer.alloc(MAX_PAYLOAD + 1)).subarray(0, 14);
  await expectViolation(header, 1009, /Max payload/);
});

test('fragments adding up to more than the limit close with 1009', () =>
  expectViolation(Buffer.concat([frame(2, Buffer.alloc(40_000), { fin: false }), frame(0, Buffer.alloc(40_000))]), 1009, /Max payload/));

test('a 64-bit length beyond 2^32 is refused without allocating', () => expectViolation(Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]), 1009, /Max payload/));

test('a client close without a code is answered and reported as 1005', async () => {
  const r = await rawClient();
  r.sock.write(frame(8, Buffer.alloc(0)));
  await r.server.done;
  const frames = await r.frames();
  assert.deepEqual(
    frames.map((f) => [f.opcode, f.payload.length]),
    [[8, 0]],
  );
  assert.equal(r.server.closed?.code, 1005);
  await r.ended;
});

test('bad handshakes get an HTTP error, not a WebSocket', async () => {
  const ask = async (headers: string, method = 'GET'): Promise<string> => {
    const sock = connect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`${method} / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${headers}\r\n`);
    let text = '';
    sock.on('data', (d) => (text += d.toString()));
    await once(sock, 'close');
    return text;
  };
  const key = `Sec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\n`;
  assert.match(await ask(`${key}Sec-WebSocket-Version: 8\r\n`), /^HTTP\/1\.1 426 [^]*Sec-WebSocket-Version: 13/);
  assert.match(await ask('Sec-WebSocket-Version: 13\r\n'), /^HTTP\/1\.1 400 [^]*Sec-WebSocket-Key/);
  assert.match(await ask('Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await ask(`${key}Sec-WebSocket-Version: 13\r\n`, 'POST'), /^HTTP\/1\.1 405 /);
});

test('sending after the close is a no-op, not an error', async () => {
  const c = await wsClient();
  c.server.conn.close(1001, 'going');
  c.server.conn.send('late');
  c.server.conn.close(1000, 'again');
  const [code] = (await once(c.ws, 'close')) as [number];
  assert.equal(code, 1001);
  await c.server.done;
});

test('a handler that throws closes only its own connection, with 1011', async () => {
  const broken = await wsClient();
  const healthy = await wsClient();
  const closed = once(broken.ws, 'close');
  broken.ws.send('throw');
  const [code, reason] = (await closed) as [number, Buffer];
  assert.equal(code, 1011);
  assert.match(reason.toString(), /handler bug/);
  assert.equal(broken.server.errors[0]?.closeCode, 1011);
  healthy.ws.send('still here');
  assert.equal(await healthy.next(), 'echo still here');
  healthy.ws.close();
  await healthy.server.done;
});

test('a peer that stops reading is dropped once the unsent backlog passes the limit', async () => {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write(`GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 9).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await once(sock, 'data'); // the 101
  sock.pause(); // and never read again
  const s = seen[seen.length - 1]!;
  // The server test handler keeps at most maxPayload per message; push 64 KiB frames until the backlog trips.
  const chunk = Buffer.alloc(65_000, 0x61);
  for (let i = 0; i < 2000 && s.conn.readyState === 1; i++) {
    s.conn.send(chunk);
    await new Promise((r) => setImmediate(r));
  }
  await s.done;
  assert.equal(s.closed?.code, CloseCode.abnormal);
  assert.match(s.errors[0]?.message ?? '', /peer stopped reading/);
  sock.destroy();
});
