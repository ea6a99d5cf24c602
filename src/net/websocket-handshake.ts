/**
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2), for connections Parley
 * frames itself (websocket-connection.ts). No subprotocols and no extensions are negotiated: a
 * client offering permessage-deflate gets plain frames, as the RFC allows.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** RFC 6455 §1.3: appended to the client's key before hashing. */
const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A Sec-WebSocket-Key is 16 random bytes in base64: 22 characters and "==". */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
}

/** Why an upgrade request was refused: the HTTP status and a short reason for the body. */
export interface HandshakeRefusal {
  readonly status: 400 | 405 | 426;
  readonly reason: string;
}

/** Checks an upgrade request; the refusal to send, or undefined when it may be accepted. */
export function checkUpgradeRequest(req: IncomingMessage): HandshakeRefusal | undefined {
  if (req.method !== 'GET') return { status: 405, reason: 'WebSocket upgrades must use GET' };
  if (!hasToken(req.headers.upgrade, 'websocket')) return { status: 400, reason: 'Upgrade header must be "websocket"' };
  if (!hasToken(req.headers.connection, 'upgrade')) return { status: 400, reason: 'Connection header must include "Upgrade"' };
  if (req.headers['sec-websocket-version'] !== '13') return { status: 426, reason: 'only WebSocket version 13 is supported' };
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !KEY_PATTERN.test(key.trim())) return { status: 400, reason: 'missing or invalid Sec-WebSocket-Key' };
  return undefined;
}

/**
 * Answers an upgrade request on its socket: 101 Switching Protocols when it is a valid WebSocket
 * handshake (returns true), otherwise the refusal as a plain HTTP response and the socket closed
 * (returns false).
 */
export function completeHandshake(req: IncomingMessage, socket: Duplex): boolean {
  const refusal = checkUpgradeRequest(req);
  if (refusal) {
    refuseUpgrade(socket, refusal.status, refusal.reason);
    return false;
  }
  const accept = websocketAccept(String(req.headers['sec-websocket-key']).trim());
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return true;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required' };

/** Sends a plain HTTP error in answer to an upgrade request and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  const extra = status === 426 ? 'Sec-WebSocket-Version: 13\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n${extra}\r\n${reason}`,
  );
}

/** Whether a comma-separated header holds `token` (case-insensitive). */
function hasToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => t.trim().toLowerCase() === token);
}
