import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketConnection } from '../../net/websocket-connection.js';
import { completeHandshake, refuseUpgrade } from '../../net/websocket-handshake.js';
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
  const sockets = new Set<Duplex>();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== TWILIO_STREAM_PATH) {
      refuseUpgrade(socket, 404, 'not found');
      return;
    }
    if (!completeHandshake(req, socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new TwilioMediaStream(new WebSocketConnection(socket, head, { maxPayload: MAX_MEDIA_MESSAGE_BYTES }), o.pacer, o.authorize, o.log);
  };
  server.on('upgrade', onUpgrade);
  return {
    close() {
      server.off('upgrade', onUpgrade);
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    get connections() {
      return sockets.size;
    },
  };
}
