import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Pacer } from '../../pipeline/pacer.js';
import { type StartAuthorizer, TwilioMediaStream, type TwilioMediaStreamLog } from './media-stream.js';
import { TWILIO_STREAM_PATH } from './webhook-routes.js';

/**
 * Largest message accepted on a media stream. A 20 ms media message is ~250 bytes and start
 * messages carry a few custom parameters; anything near this is not Twilio.
 */
export const MAX_MEDIA_MESSAGE_BYTES = 64 * 1024;

/** Accepts WebSocket upgrades on /twilio/stream of `server` and runs a TwilioMediaStream on each. */
export function attachTwilioStreamServer(
  server: Server,
  o: { pacer: Pacer; authorize: StartAuthorizer; log: TwilioMediaStreamLog },
): { close(): void; readonly connections: number } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MEDIA_MESSAGE_BYTES, perMessageDeflate: false });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== TWILIO_STREAM_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      new TwilioMediaStream(ws, o.pacer, o.authorize, o.log);
    });
  };
  server.on('upgrade', onUpgrade);
  return {
    close() {
      server.off('upgrade', onUpgrade);
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
    get connections() {
      return wss.clients.size;
    },
  };
}
