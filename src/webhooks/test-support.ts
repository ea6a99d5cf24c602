// Shared by the webhook tests: a real loopback HTTP receiver, as a tenant would run one.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceivedWebhook {
  readonly path: string;
  /** Lower-case names. */
  readonly headers: IncomingHttpHeaders;
  /** The body exactly as received (what the signature covers). */
  readonly rawBody: string;
}

export interface WebhookReceiver {
  /** e.g. `http://127.0.0.1:41234/hooks` */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** Resolves when `n` requests have been received (at once if they already were). */
  waitFor(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver answering request i (0-based) with `statusOf(i)`. */
export async function startWebhookReceiver(statusOf: (index: number) => number = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      const index = received.length;
      received.push({ path: req.url ?? '', headers: req.headers, rawBody: Buffer.concat(parts).toString('utf8') });
      const status = statusOf(index);
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status >= 200 && status < 300 ? 'ok' : `receiver says no (${status})`);
      for (const w of waiters.splice(0)) {
        if (received.length >= w.n) w.resolve();
        else waiters.push(w);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    waitFor: (n) => (received.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    close: async () => {
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
