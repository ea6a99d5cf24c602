/**
 * Webhook deliveries are signed with the same X-Parley-Signature scheme as HTTP tools
 * (src/tools/signature.ts): `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * These names keep the webhook code readable; the scheme has one implementation.
 */
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS, signBody, verifySignature } from '../tools/signature.js';

export { SIGNATURE_HEADER } from '../tools/signature.js';
/** Default accepted distance between the signature's timestamp and the verifier's clock. */
export const SIGNATURE_TOLERANCE_S = DEFAULT_SIGNATURE_TOLERANCE_SECONDS;

/** The header value signing `rawBody` at `nowS` (unix seconds). */
export function signWebhookPayload(secret: string, rawBody: string, nowS: number): string {
  return signBody(secret, rawBody, nowS);
}

/** True when `header` signs `rawBody` under `secret` with a timestamp within `toleranceS` of `nowS`. */
export function verifyWebhookSignature(secret: string, header: string | undefined, rawBody: string, nowS: number, toleranceS: number = SIGNATURE_TOLERANCE_S): boolean {
  return verifySignature(secret, header, rawBody, { nowSeconds: nowS, toleranceSeconds: toleranceS });
}
