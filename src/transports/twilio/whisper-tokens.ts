import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Warm-transfer whispers: the text the person answering a transfer hears before the caller is
 * bridged. The text stays in this process; Twilio gets a short HMAC-signed token in the
 * <Number url> (Fastify caps path parameters at 200 characters, a briefing is longer) and
 * fetches POST /twilio/whisper/:token when that person answers.
 *
 * One process: the instance that started the transfer serves its whisper (see docs/calls.md).
 * A token may be fetched more than once until it expires (Twilio retries failed fetches).
 */

/** Covers the transferee's ringing time (Twilio's <Dial> timeout is 30 s by default) and retries. */
export const WHISPER_TTL_MS = 10 * 60_000;
/** Twilio's <Say> takes up to 4,096 characters; a briefing is a short spoken summary. */
export const WHISPER_MAX_CHARS = 1_500;
/** Bound on memory: transfers are rare, so this many pending whispers means something is wrong. */
const MAX_ENTRIES = 10_000;

interface Entry {
  readonly tenantId: string;
  readonly text: string;
  readonly expiresAtMs: number;
}

export type WhisperCheck = { ok: true; tenantId: string; text: string } | { ok: false; reason: string };

export class WhisperTokens {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly secret: string,
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = WHISPER_TTL_MS,
  ) {
    if (secret.length < 16) throw new Error('WhisperTokens needs a secret of at least 16 characters');
  }

  /** Stores `text` for `tenantId` and returns the token to put in the whisper URL. */
  issue(o: { tenantId: string; text: string }): string {
    const nowMs = this.now();
    this.prune(nowMs);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    const id = randomBytes(16).toString('base64url');
    const expiresAtMs = nowMs + this.ttlMs;
    this.entries.set(id, { tenantId: o.tenantId, text: o.text.slice(0, WHISPER_MAX_CHARS), expiresAtMs });
    const body = `${id}.${expiresAtMs.toString(36)}`;
    return `${body}.${this.sign(body)}`;
  }

  /** The whisper a token names, if its signature holds and it has not expired. */
  resolve(token: string): WhisperCheck {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed whisper token' };
    const [id, exp, sig] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${id}.${exp}`));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad whisper token signature' };
    const nowMs = this.now();
    if (Number.parseInt(exp, 36) < nowMs) return { ok: false, reason: 'whisper token expired' };
    const entry = this.entries.get(id);
    if (!entry || entry.expiresAtMs < nowMs) return { ok: false, reason: 'unknown whisper (another process, or expired)' };
    return { ok: true, tenantId: entry.tenantId, text: entry.text };
  }

  private sign(body: string): string {
    // 128 bits of HMAC-SHA256 keep the URL short and are far beyond guessing.
    return createHmac('sha256', this.secret).update(body).digest().subarray(0, 16).toString('base64url');
  }

  private prune(nowMs: number): void {
    // Insertion order = expiry order (one TTL), so stop at the first live entry.
    for (const [id, e] of this.entries) {
      if (e.expiresAtMs >= nowMs) break;
      this.entries.delete(id);
    }
  }
}
