/**
 * The X-Parley-Signature scheme (HTTP tools; the same scheme suits webhooks):
 *
 *   X-Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The timestamp is inside the signed text so a captured request cannot be replayed later than the
 * receiver's tolerance. Receivers must verify against the raw body bytes, before parsing JSON.
 * `verifySignature` is written to be copied into a tenant's own service (it only needs node:crypto).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Parley-Signature';
/** Default freshness window of a signature, either side of the receiver's clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** The header value for `rawBody` signed at `timestampSeconds`. */
export function signBody(secret: string, rawBody: string, timestampSeconds: number): string {
  const t = Math.floor(timestampSeconds);
  const v1 = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * True when `header` (the X-Parley-Signature value) signs `rawBody` with `secret` and its timestamp
 * is within `toleranceSeconds` of now. Several v1 entries are accepted (any may match), so a sender
 * can sign with an old and a new secret while a secret is being rotated.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  o: { toleranceSeconds?: number; nowSeconds?: number } = {},
): boolean {
  if (!header) return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) candidates.push(value);
  }
  if (t === undefined || candidates.length === 0) return false;
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (o.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`, 'utf8').digest();
  let ok = false;
  // Every candidate is compared (no early exit), each in constant time.
  for (const c of candidates) if (timingSafeEqual(Buffer.from(c, 'hex'), expected)) ok = true;
  return ok;
}
