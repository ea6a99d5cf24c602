/**
 * Outbound HTTP to tenant-chosen URLs (HTTP tools, webhooks) with a server-side request forgery
 * guard: a tenant must not be able to make Parley reach its own loopback, the private network it
 * runs in, or a cloud metadata endpoint (169.254.169.254) unless the tenant is explicitly allowed to
 * (`network.allowPrivateAddresses`).
 *
 * Constraints this module keeps:
 * - The address check happens inside the socket's DNS `lookup`, and the socket connects to exactly
 *   the address that was checked: there is no gap between "check" and "connect" for DNS rebinding.
 * - Literal IP hosts never reach `lookup` (Node connects to them directly), so they are checked first.
 * - No connection reuse (`agent: false`): a pooled socket opened under one tenant's permission must
 *   never carry another tenant's request.
 * - Redirects are never followed; a 3xx comes back as is (following one would skip the check).
 * - One timer covers DNS, connect, request and the whole response; bodies over the cap are refused.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

export interface PostJsonOptions {
  readonly headers?: Record<string, string>;
  /** Covers DNS, connect, sending and receiving the whole response. */
  readonly timeoutMs: number;
  /** The tenant's `network.allowPrivateAddresses`: true turns the address check off. */
  readonly allowPrivateAddresses: boolean;
  /** Larger response bodies fail the request. Default 64 KiB. */
  readonly maxResponseBytes?: number;
  readonly signal?: AbortSignal;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The URL may not be fetched: bad scheme, malformed, or it names or resolves to a refused address. */
export class UnsafeUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeUrlError';
  }
}

/** The request did not complete within `timeoutMs`. */
export class HttpTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
    this.name = 'HttpTimeoutError';
  }
}

// ---------- address classification ----------

/** [network, prefix length] of IPv4 ranges that are not the public internet. */
const PRIVATE_V4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

function v4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

const PRIVATE_V4_MASKS = PRIVATE_V4.map(([net, bits]) => {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { net: (v4ToInt(net) & mask) >>> 0, mask };
});

function isPrivateV4Int(n: number): boolean {
  return PRIVATE_V4_MASKS.some(({ net, mask }) => ((n & mask) >>> 0) === net);
}

/** The eight 16-bit groups of a valid IPv6 address (zone id ignored). */
function v6Groups(ip: string): number[] {
  let s = ip.split('%')[0] ?? '';
  const groups: number[] = [];
  // A trailing dotted quad ("::ffff:1.2.3.4") is two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (dotted?.[1]) {
    const n = v4ToInt(dotted[1]);
    tail = [n >>> 16, n & 0xffff];
    s = s.slice(0, -dotted[1].length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const [head = '', rest] = s.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const front = parse(head);
  const back = [...(rest === undefined ? [] : parse(rest)), ...tail];
  const fill = 8 - front.length - back.length;
  groups.push(...front, ...new Array<number>(Math.max(fill, 0)).fill(0), ...back);
  return groups;
}

function isPrivateV6(ip: string): boolean {
  const g = v6Groups(ip);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embeddedV4 = ((g6 << 16) | g7) >>> 0;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (upperZero && g5 === 0xffff) return isPrivateV4Int(embeddedV4); // IPv4-mapped ::ffff:a.b.c.d
  if (upperZero && g5 === 0) return true; // ::, ::1 and deprecated IPv4-compatible ::a.b.c.d
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return isPrivateV4Int(embeddedV4); // NAT64
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true; // local-use NAT64
  if (g0 === 0x2002) return isPrivateV4Int(((g1 << 16) | g2) >>> 0); // 6to4 embeds an IPv4 address
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return true; // discard-only
  if (g0 === 0x2001 && g1 < 0x200) return true; // 2001::/23 IETF protocol assignments (Teredo…)
  if (g0 === 0x2001 && g1 === 0xdb8) return true; // documentation
  if ((g0 & 0xfe00) === 0xfc00) return true; // unique local fc00::/7
  if ((g0 & 0xffc0) === 0xfe80) return true; // link-local fe80::/10
  if ((g0 & 0xffc0) === 0xfec0) return true; // site-local (deprecated) fec0::/10
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/**
 * True when `ip` is not a public unicast address: loopback, private, link-local (incl. cloud
 * metadata), CGNAT, "this network", documentation, benchmarking, multicast, reserved, the IPv6
 * equivalents, and IPv6 forms that embed such an IPv4 address (mapped, NAT64, 6to4). Anything that
 * is not an IP address at all also answers true: callers treat "unknown" as "refuse".
 */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip.split('%')[0] ?? '');
  if (family === 4) return isPrivateV4Int(v4ToInt(ip));
  if (family === 6) return isPrivateV6(ip);
  return true;
}

// ---------- the request ----------

function refusal(host: string, address: string): UnsafeUrlError {
  return new UnsafeUrlError(
    host === address
      ? `${host} is a private, loopback or reserved address (set network.allowPrivateAddresses to allow it)`
      : `${host} resolves to ${address}, a private, loopback or reserved address (set network.allowPrivateAddresses to allow it)`,
  );
}

/**
 * A `lookup` for sockets that resolves with the system resolver and refuses the name when any of
 * its addresses is refused (a name mixing public and private addresses is not trusted either).
 * Handles both call shapes Node uses: single address, and `all: true` (happy eyeballs).
 */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      if (!allowPrivate) {
        const bad = addresses.find((a) => isPrivateAddress(a.address));
        if (bad) return callback(refusal(hostname, bad.address), '', 0);
      }
      if (addresses.length === 0) return callback(new UnsafeUrlError(`${hostname} has no addresses`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** Parses and checks the URL; throws UnsafeUrlError. */
function checkUrl(url: string, allowPrivate: boolean): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UnsafeUrlError('not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UnsafeUrlError(`${u.protocol} URLs are not allowed (only http and https)`);
  // The URL parser already normalised IPv4 spellings such as 0x7f.1 or 2130706433 to dotted quads.
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') throw new UnsafeUrlError('the URL has no host');
  if (!allowPrivate && isIP(host) !== 0 && isPrivateAddress(host)) throw refusal(host, host);
  return u;
}

function flattenHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * POSTs `body` as JSON (serialised with JSON.stringify — a caller that signs the body serialises
 * the same value the same way) and returns the response whatever its status. Rejects with
 * UnsafeUrlError (refused URL or address), HttpTimeoutError, the signal's reason, or an Error for
 * network failures and bodies over `maxResponseBytes`.
 */
export function postJson(url: string, body: unknown, o: PostJsonOptions): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    let u: URL;
    let payload: Buffer;
    try {
      u = checkUrl(url, o.allowPrivateAddresses);
      const text = JSON.stringify(body);
      if (text === undefined) throw new TypeError('the body cannot be serialised as JSON');
      payload = Buffer.from(text, 'utf8');
    } catch (err) {
      reject(err);
      return;
    }
    if (o.signal?.aborted) {
      reject(o.signal.reason);
      return;
    }
    const maxBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const headers: Record<string, string> = { 'user-agent': 'Parley', ...(o.headers ?? {}) };
    // Framing is ours: a caller-supplied length or type must not disagree with the bytes sent.
    for (const k of Object.keys(headers)) if (/^(content-length|content-type|host|transfer-encoding|connection)$/i.test(k)) delete headers[k];
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);

    let settled = false;
    let req: http.ClientRequest | undefined;
    const finish = (err: unknown, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        req?.destroy();
        reject(err);
      } else resolve(res as HttpResponse);
    };
    const timer = setTimeout(() => finish(new HttpTimeoutError(o.timeoutMs)), o.timeoutMs);
    const onAbort = (): void => finish(o.signal?.reason ?? new Error('aborted'));
    o.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      const request = u.protocol === 'https:' ? https.request : http.request;
      req = request({
        protocol: u.protocol,
        hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
        port: u.port === '' ? undefined : Number(u.port),
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        headers,
        agent: false,
        lookup: guardedLookup(o.allowPrivateAddresses),
        ...(u.username !== '' ? { auth: `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}` } : {}),
      });
    } catch (err) {
      // Invalid header names or values throw synchronously.
      finish(err instanceof Error ? new Error(`invalid request: ${err.message}`) : err);
      return;
    }
    req.on('error', (err) => finish(err));
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(new Error(`response body of ${declared} bytes exceeds the ${maxBytes}-byte limit`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish(new Error(`response body exceeds the ${maxBytes}-byte limit`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => finish(err));
      res.on('aborted', () => finish(new Error('the response was cut off')));
    });
    req.end(payload);
  });
}
