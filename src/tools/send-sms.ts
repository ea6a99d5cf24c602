/**
 * send_sms: texts the person on the call, from the tenant's number on the call. There is no `to`
 * argument on purpose: a model (or a caller talking it round) must not be able to text arbitrary
 * numbers on the tenant's account.
 */
import { SMS_MAX_BODY_CHARS, SMS_TIMEOUT_MS, SmsError, sendSms } from '../transports/twilio/messages.js';
import { isE164 } from './phone.js';
import type { AgentTool, ToolServices } from './types.js';

export function createSendSmsTool(services: Pick<ToolServices, 'twilioApiBaseUrl'>): AgentTool {
  return {
    spec: {
      name: 'send_sms',
      description:
        'Send a text message (SMS) to the caller\'s phone, from this business\'s number. Use it for details the caller should keep ' +
        '(an address, a confirmation number, a link, opening hours) and only after the caller agreed to receive a text. ' +
        'It can only text the person on this call. Write the complete message; keep it short.',
      parameters: {
        type: 'object',
        properties: {
          body: { type: 'string', minLength: 1, maxLength: SMS_MAX_BODY_CHARS, description: `The message text, at most ${SMS_MAX_BODY_CHARS} characters.` },
        },
        required: ['body'],
        additionalProperties: false,
      },
    },
    timeoutMs: SMS_TIMEOUT_MS + 1_000,
    async run(args, ctx) {
      const body = String(args['body'] ?? '').trim();
      if (body === '') return { ok: false, error: 'the message is empty' };
      if (body.length > SMS_MAX_BODY_CHARS) return { ok: false, error: `the message is longer than ${SMS_MAX_BODY_CHARS} characters` };
      const { accountSid, authToken } = ctx.tenant.twilio ?? {};
      if (!accountSid || !authToken) return { ok: false, error: 'text messages are not set up for this business (twilio.accountSid and twilio.authToken are missing)' };
      if (!isE164(ctx.remoteNumber)) return { ok: false, error: "the caller's number is unknown or is not a phone number, so no text can be sent" };
      if (!isE164(ctx.localNumber)) return { ok: false, error: 'this call has no business phone number to send a text from' };
      try {
        const sent = await sendSms({ accountSid, authToken }, { to: ctx.remoteNumber, from: ctx.localNumber, body }, { baseUrl: services.twilioApiBaseUrl, timeoutMs: SMS_TIMEOUT_MS, signal: ctx.signal });
        return { ok: true, data: { sent: true, messageSid: sent.sid } };
      } catch (err) {
        return { ok: false, error: err instanceof SmsError ? err.message : `the text could not be sent: ${(err as Error).message}` };
      }
    },
  };
}
