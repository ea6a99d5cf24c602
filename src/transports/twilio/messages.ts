/**
 * Twilio Programmable Messaging: send one SMS.
 * Docs: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
 *
 *   POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json
 *   Authorization: Basic base64(AccountSid:AuthToken)
 *   Content-Type: application/x-www-form-urlencoded
 *   To=+1555…&From=+1555…&Body=…
 *
 * The base URL is configurable so tests can point it at a loopback fake. The auth token never
 * appears in errors.
 */
import type { TwilioCredentials } from './rest-client.js';

export const TWILIO_API_BASE_URL = 'https://api.twilio.com';
/** Twilio's limit for one message body (it splits longer SMS into segments up to this). */
export const SMS_MAX_BODY_CHARS = 1600;
export const SMS_TIMEOUT_MS = 5_000;

export interface SmsMessage {
  readonly to: string;
  readonly from: string;
  readonly body: string;
}

export interface SentSms {
  /** Twilio's message SID (SM…). */
  readonly sid: string;
  /** Usually "queued" or "accepted". */
  readonly status: string;
}

/** Twilio refused the message or could not be reached. `status` is the HTTP status when there was one. */
export class SmsError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** Twilio's error code (e.g. 21211 invalid To number), when it gave one. */
    readonly code?: number,
  ) {
    super(message);
    this.name = 'SmsError';
  }
}

export interface SendSmsOptions {
  /** Default https://api.twilio.com. */
  readonly baseUrl?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Sends `m` through the account in `creds`. Throws SmsError. */
export async function sendSms(creds: TwilioCredentials, m: SmsMessage, o: SendSmsOptions = {}): Promise<SentSms> {
  if (m.body.length === 0 || m.body.length > SMS_MAX_BODY_CHARS) throw new SmsError(`the message must be 1 to ${SMS_MAX_BODY_CHARS} characters`);
  const base = (o.baseUrl ?? TWILIO_API_BASE_URL).replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(creds.accountSid)}/Messages.json`;
  const timeoutMs = o.timeoutMs ?? SMS_TIMEOUT_MS;
  const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.accountSid}:${creds.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ To: m.to, From: m.from, Body: m.body }).toString(),
      signal,
      redirect: 'error',
    });
    text = await res.text();
  } catch (err) {
    if (o.signal?.aborted) throw new SmsError('the SMS request was canceled');
    if (signal.aborted) throw new SmsError(`Twilio did not answer within ${timeoutMs} ms`);
    throw new SmsError(`Twilio could not be reached: ${(err as Error).message}`);
  }
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    // not JSON; handled below
  }
  if (!res.ok) {
    const code = typeof json['code'] === 'number' ? json['code'] : undefined;
    const message = typeof json['message'] === 'string' ? json['message'] : text.slice(0, 200);
    throw new SmsError(`Twilio refused the SMS: HTTP ${res.status}${code !== undefined ? ` (${code})` : ''}${message ? `: ${message}` : ''}`, res.status, code);
  }
  if (typeof json['sid'] !== 'string') throw new SmsError('Twilio answered without a message SID', res.status);
  return { sid: json['sid'], status: typeof json['status'] === 'string' ? json['status'] : 'queued' };
}
