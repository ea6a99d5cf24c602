/**
 * Receiving Twilio-sized media messages: server CPU per message with the `ws` library's server
 * and with Parley's own framing (src/net/websocket-connection.ts), same handshake, same messages.
 *
 * A child process opens CONNECTIONS WebSockets and sends MESSAGES_PER_CONNECTION masked 20 ms
 * media messages on each, BURST per connection per turn (one: each read holds one message, as with paced audio); this process only receives
 * and counts, so its CPU time (user + system) divided by the messages is the receive cost.
 *
 * Usage: taskset -c 0 node dist/bench/websocket-receive.js   (prints JSON; `make bench` runs it)
 *   ONLY=ws|parley measures one side only (e.g. under --cpu-prof).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { WebSocketConnection } from '../src/net/websocket-connection.js';
import { completeHandshake } from '../src/net/websocket-handshake.js';

const CONNECTIONS = 200;
const MESSAGES_PER_CONNECTION = 1500;
const BURST = 1;
const ROUNDS = 5;

const payload = Buffer.alloc(160, 0xff).toString('base64');
const message = JSON.stringify({ event: 'media', sequenceNumber: '3', media: { track: 'inbound', chunk: '1', timestamp: '5', payload }, streamSid: 'MZ18ad3ab5a668481ce02b83e7395059f0' });

async function client(port: number): Promise<void> {
  const sockets = await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      await once(ws, 'open');
      return ws;
    }),
  );
  for (let sent = 0; sent < MESSAGES_PER_CONNECTION; sent += BURST) {
    for (const ws of sockets) for (let i = 0; i < BURST; i++) ws.send(message);
    // Let the kernel and the server keep up, as paced audio would.
    await new Promise((r) => setImmediate(r));
  }
  for (const ws of sockets) ws.close();
}

async function measure(kind: 'ws' | 'parley'): Promise<{ usPerMessage: number; userUsPerMessage: number; messages: number }> {
  let received = 0;
  const total = CONNECTIONS * MESSAGES_PER_CONNECTION;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const count = (data: Buffer): void => {
    if (data.length > 0) received++;
    if (received === total) done();
  };
  const server: Server = createServer();
  if (kind === 'ws') {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65536 });
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => count(d as Buffer))));
  } else {
    server.on('upgrade', (req, socket, head) => {
      if (!completeHandshake(req, socket)) return;
      new WebSocketConnection(socket, head, { maxPayload: 65536 }).start({ message: count, close() {}, error() {} });
    });
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  // The sender runs on the other core when it can, so this process's CPU is the receiver's alone.
  const child = spawn('taskset', ['-c', '1', process.execPath, fileURLToPath(import.meta.url), '--client', String(port)], { stdio: 'inherit' });
  // Start counting once every connection is up (the first message arrives).
  await new Promise<void>((r) => {
    const poll = setInterval(() => {
      if (received > 0) {
        clearInterval(poll);
        r();
      }
    }, 1);
  });
  const before = process.cpuUsage();
  const from = received;
  await finished;
  const used = process.cpuUsage(before);
  await once(child, 'exit');
  server.close();
  return { usPerMessage: (used.user + used.system) / (received - from), userUsPerMessage: used.user / (received - from), messages: received - from };
}

if (process.argv[2] === '--client') {
  await client(Number(process.argv[3]));
  process.exit(0);
} else {
  const only = process.env.ONLY;
  const KINDS: readonly ('ws' | 'parley')[] = only === 'ws' || only === 'parley' ? [only] : ['ws', 'parley'];
  const runs: Record<'ws' | 'parley', number[]> = { ws: [], parley: [] };
  const user: Record<'ws' | 'parley', number[]> = { ws: [], parley: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of KINDS) {
      const m = await measure(kind);
      runs[kind].push(Math.round(m.usPerMessage * 100) / 100);
      user[kind].push(Math.round(m.userUsPerMessage * 100) / 100);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ws = median(runs.ws);
  const parley = median(runs.parley);
  console.log(
    JSON.stringify(
      {
        bench: 'websocket-receive',
        messageBytes: Buffer.byteLength(message),
        connections: CONNECTIONS,
        rounds: ROUNDS,
        serverCpuUsPerMessage: { ws, parley },
        ratio: Math.round((ws / parley) * 100) / 100,
        userCpuUsPerMessage: { ws: median(user.ws), parley: median(user.parley) },
        userRatio: Math.round((median(user.ws) / median(user.parley)) * 100) / 100,
        runs,
      },
      null,
      2,
    ),
  );
}
