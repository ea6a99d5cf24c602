import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived, single-use tokens that bind a media stream to the call the voice webhook accepted.
 * The webhook puts one in the <Stream>'s <Parameter>; the stream's `start` message must carry it
 * with the same CallSid, so nobody can open a media stream for a call Parley did not answer.
 */

/** Twilio opens the stream right after fetching TwiML; two minutes covers slow networks and retries. */
export const STREAM_TOKEN_TTL_MS = 120_000;

export interface StreamTokenClaims {
  readonly callSid: string;
  readonly tenantId: string;
  /** The agent that answers (inbound: the number's agent; outbound: the one the API asked for). */
  readonly agentId: string;
  /** Set for outbound calls, whose record exists before the stream starts. */
  readonly callId?: string;
  readonly from: string;
  readonly to: string;
  readonly expiresAtMs: number;
  readonly nonce: string;
}

export type TokenCheck = { ok: true; claims: StreamTokenClaims } | { ok: false; reason: string };

export class StreamTokens {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  issue(c: Omit<StreamTokenClaims, 'expiresAtMs' | 'nonce'>): string {
    const claims: StreamTokenClaims = { ...c, expiresAtMs: this.now() + STREAM_TOKEN_TTL_MS, nonce: randomBytes(9).toString('base64url') };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** Verifies and consumes a token for `callSid`; a token works once. */
  consume(token: string | undefined, callSid: string): TokenCheck {
    if (!token) return { ok: false, reason: 'missing stream token' };
    const [body, sig] = token.split('.');
    if (!body || !sig) return { ok: false, reason: 'malformed stream token' };
    const expected = Buffer.from(this.sign(body));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad stream token signature' };
    let claims: StreamTokenClaims;
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as StreamTokenClaims;
    } catch {
      return { ok: false, reason: 'malformed stream token' };
    }
    const nowMs = this.now();
    if (claims.expiresAtMs < nowMs) return { ok: false, reason: 'stream token expired' };
    if (claims.callSid !== callSid) return { ok: false, reason: 'stream token is for another call' };
    this.prune(nowMs);
    if (this.used.has(claims.nonce)) return { ok: false, reason: 'stream token already used' };
    this.used.set(claims.nonce, claims.expiresAtMs);
    return { ok: true, claims };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }

  private prune(nowMs: number): void {
    for (const [nonce, exp] of this.used) if (exp < nowMs) this.used.delete(nonce);
  }
}
