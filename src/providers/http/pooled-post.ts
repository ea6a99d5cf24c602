// A POST on the shared kept-alive pools (connection-pool.ts), for the REST providers that stream a
// response body (the HTTP text-to-speech ones) or upload one (Whisper-style transcription). Not fetch: undici drops an idle connection after 4 s
// unless the response carries a `Keep-Alive: timeout=` hint, so against a server that sends none a
// call's replies, usually more than 4 s apart, each waited for a new TCP + TLS connection before
// their audio could start. Here idle connections live FREE_SOCKET_TIMEOUT_MS (30 s).
import { randomBytes } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { httpAgent, httpsAgent, lostUnusedConnection, MAX_STALE_SOCKET_RETRIES } from './connection-pool.js';

export interface PooledPost {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
  /** Aborting destroys the request (and its connection); the promise then rejects. */
  readonly signal: AbortSignal;
}

/**
 * Sends the POST and resolves with the response once its head has arrived (any status; the body is
 * the caller's to read or destroy). Rejects on network failure, an unusable URL, or abort.
 */
export function pooledPost(p: PooledPost): Promise<IncomingMessage> {
  const url = new URL(p.url);
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') return Promise.reject(new Error(`unsupported URL scheme ${url.protocol}`));
  const payload = typeof p.body === 'string' ? Buffer.from(p.body, 'utf8') : p.body;
  return new Promise<IncomingMessage>((resolve, reject) => {
    let retries = 0;
    const send = (): void => {
      const req: ClientRequest = (https ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        headers: { ...p.headers, 'content-length': payload.byteLength },
        agent: https ? httpsAgent : httpAgent,
        signal: p.signal,
      });
      let responded = false;
      req.on('response', (res) => {
        responded = true;
        resolve(res);
      });
      req.on('error', (err: Error) => {
        if (responded) return; // a failure reading the body: the response stream reports it
        if (!p.signal.aborted && lostUnusedConnection(req, err) && retries < MAX_STALE_SOCKET_RETRIES) {
          retries++;
          send();
          return;
        }
        reject(err);
      });
      req.end(payload);
    };
    send();
  });
}

/**
 * Reads a whole (small) response body as UTF-8. Rejects when the connection fails or is destroyed
 * (abort) before the end, or when the body passes `maxBytes` (the connection is then destroyed).
 */
export function readWholeBody(res: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) {
        res.destroy(new Error(`response body over ${maxBytes} bytes`));
        return;
      }
      parts.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('connection closed before the response ended'));
    });
  });
}

/** A multipart/form-data body (RFC 7578): text fields, then one file. */
export function multipartForm(fields: readonly (readonly [string, string])[], file: { readonly field: string; readonly filename: string; readonly type: string; readonly data: Buffer }): { readonly body: Buffer; readonly contentType: string } {
  const boundary = `----parley-${randomBytes(16).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of fields) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`, 'utf8'));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.field}"; filename="${file.filename}"\r\nContent-Type: ${file.type}\r\n\r\n`, 'utf8'));
  parts.push(file.data, Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
