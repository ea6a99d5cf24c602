import type { CallControl } from '../../pipeline/agent-tools.js';
import type { TenantConfig } from '../../tenants/schema.js';
import { TwilioRestClient } from './rest-client.js';
import type { WhisperTokens } from './whisper-tokens.js';

/** Path of the warm-transfer whisper webhook; the token follows. */
export const TWILIO_WHISPER_PATH = '/twilio/whisper';

export interface TwilioCallControlOptions {
  readonly tenant: TenantConfig;
  /** The live call's CA… sid. */
  readonly callSid: string;
  /** Twilio REST base URL (a loopback fake in tests). */
  readonly baseUrl: string;
  /**
   * PARLEY_PUBLIC_URL. A warm transfer needs it: Twilio fetches the whisper from an absolute URL
   * (TwiML sent through the REST API has no document URL to resolve a relative one against).
   */
  readonly publicUrl?: string;
  readonly whisperTokens: WhisperTokens;
  /** Told when a warm transfer has to go cold (no public URL). */
  readonly log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

/** What the person answering a warm transfer hears before the caller is connected. */
export function whisperText(tenantName: string, briefing: string | undefined): string {
  const intro = `Incoming transfer from the ${tenantName} assistant.`;
  const b = briefing?.trim();
  return b ? `${intro} ${b}` : intro;
}

/**
 * Transfers for a live Twilio call, through the Call resource's TwiML update: cold dials the
 * destination in place of the agent; warm does the same with a <Number url> whisper so the
 * destination hears the briefing first. Throws (the agent then tells the caller) when the tenant
 * has no REST credentials or Twilio refuses.
 */
export function createTwilioCallControl(o: TwilioCallControlOptions): CallControl {
  return {
    async transfer(to, opts = {}) {
      const { accountSid, authToken } = o.tenant.twilio ?? {};
      if (!accountSid || !authToken) throw new Error('transfer needs twilio.accountSid and twilio.authToken in the tenant configuration');
      const client = new TwilioRestClient({ accountSid, authToken }, o.baseUrl);
      if (opts.mode !== 'warm') return client.transfer(o.callSid, to);
      if (!o.publicUrl) {
        // Better a connected caller without a briefing than a failed transfer.
        o.log?.warn({ tenantId: o.tenant.id, callSid: o.callSid }, 'warm transfer made cold: PARLEY_PUBLIC_URL is not set, so Twilio cannot fetch the whisper');
        return client.transfer(o.callSid, to);
      }
      const token = o.whisperTokens.issue({ tenantId: o.tenant.id, text: whisperText(o.tenant.name, opts.briefing) });
      return client.warmTransfer(o.callSid, to, `${o.publicUrl}${TWILIO_WHISPER_PATH}/${token}`);
    },
  };
}
