import twilio from 'twilio';

/** A live-call update that does not answer within this time has failed; the caller is waiting. */
export const TWILIO_REST_TIMEOUT_MS = 5_000;

export interface TwilioCredentials {
  readonly accountSid: string;
  readonly authToken: string;
}

/** Call progress events Twilio can report to a StatusCallback (Call resource, StatusCallbackEvent). */
export type TwilioCallEvent = 'initiated' | 'ringing' | 'answered' | 'completed';

export interface CreateCallOptions {
  /** E.164 number (or sip: URI) to call. */
  readonly to: string;
  /** A Twilio number of the account, E.164. */
  readonly from: string;
  /** Absolute URL Twilio POSTs to for TwiML when the call is answered. */
  readonly url: string;
  /** Absolute URL Twilio POSTs call progress to. */
  readonly statusCallback?: string;
  /** Which progress events to report; Twilio's default is `completed` only. */
  readonly statusCallbackEvents?: readonly TwilioCallEvent[];
  /**
   * Answering-machine detection. Runs asynchronously (AsyncAmd=true): the answered call is
   * connected at once — no dead air for a human — and the result (AnsweredBy) is POSTed to
   * `amdStatusCallback` (default: `statusCallback`) while the agent already talks.
   */
  readonly machineDetection?: boolean;
  readonly amdStatusCallback?: string;
}

export interface CreatedCall {
  /** CA… call sid. */
  readonly sid: string;
  /** Twilio's status at creation, normally `queued`. */
  readonly status: string;
}

/**
 * A non-2xx answer from Twilio's REST API. `status` is Twilio's HTTP status; `code` its numeric
 * error code (https://www.twilio.com/docs/api/errors) when the body carried one. The message
 * quotes Twilio's message, never the request (which may carry credentials in other clients).
 */
export class TwilioApiError extends Error {
  readonly status: number;
  readonly code: number | undefined;
  readonly moreInfo: string | undefined;

  constructor(operation: string, status: number, body: { code?: unknown; message?: unknown; more_info?: unknown } | undefined, text: string) {
    const detail = typeof body?.message === 'string' ? body.message : text.slice(0, 200);
    super(`Twilio ${operation} failed: HTTP ${status}${detail ? ` ${detail}` : ''}`);
    this.name = 'TwilioApiError';
    this.status = status;
    this.code = typeof body?.code === 'number' ? body.code : undefined;
    this.moreInfo = typeof body?.more_info === 'string' ? body.more_info : undefined;
  }
}

/** A transfer destination for <Dial>: a phone number, or a sip:/sips: URI (which needs the <Sip> noun). */
function isSipUri(to: string): boolean {
  return /^sips?:/i.test(to);
}

/**
 * The Twilio Call-resource requests Parley makes (create, update), over fetch so
 * the base URL can point at a loopback fake in tests. Docs:
 * https://www.twilio.com/docs/voice/api/call-resource (SMS: messages.ts)
 */
export class TwilioRestClient {
  constructor(
    private readonly creds: TwilioCredentials,
    private readonly baseUrl = 'https://api.twilio.com',
  ) {}

  /** Places an outbound call (POST …/Calls.json). */
  async createCall(o: CreateCallOptions): Promise<CreatedCall> {
    const form = new URLSearchParams({ To: o.to, From: o.from, Url: o.url, Method: 'POST' });
    if (o.statusCallback) {
      form.set('StatusCallback', o.statusCallback);
      form.set('StatusCallbackMethod', 'POST');
      // Repeated parameter, one value per event, as Twilio documents it.
      for (const e of o.statusCallbackEvents ?? []) form.append('StatusCallbackEvent', e);
    }
    if (o.machineDetection) {
      form.set('MachineDetection', 'Enable');
      form.set('AsyncAmd', 'true');
      const amdUrl = o.amdStatusCallback ?? o.statusCallback;
      if (amdUrl) {
        form.set('AsyncAmdStatusCallback', amdUrl);
        form.set('AsyncAmdStatusCallbackMethod', 'POST');
      }
    }
    const res = await this.post('call create', this.accountPath('Calls.json'), form);
    const sid = typeof res.sid === 'string' ? res.sid : '';
    if (!/^CA[0-9a-zA-Z]{10,64}$/.test(sid)) throw new TwilioApiError('call create', 502, { message: 'response carried no call sid' }, '');
    return { sid, status: typeof res.status === 'string' ? res.status : 'queued' };
  }

  /**
   * Ends a call. `completed` hangs up a call in any state; `canceled` only cancels one that is
   * still queued or ringing (and leaves an answered call alone).
   */
  async endCall(callSid: string, status: 'completed' | 'canceled' = 'completed'): Promise<void> {
    await this.post('call update', this.callPath(callSid), new URLSearchParams({ Status: status }));
  }

  /** Replaces the live call's TwiML; Twilio ends the current <Connect><Stream> and runs the new TwiML. */
  async updateCallTwiml(callSid: string, twimlXml: string): Promise<void> {
    await this.post('call update', this.callPath(callSid), new URLSearchParams({ Twiml: twimlXml }));
  }

  /** Cold transfer: dial `to` in place of the agent. */
  transfer(callSid: string, to: string): Promise<void> {
    const r = new twilio.twiml.VoiceResponse();
    if (isSipUri(to)) r.dial().sip(to);
    else r.dial(to);
    return this.updateCallTwiml(callSid, r.toString());
  }

  /**
   * Warm transfer: dial `to`; when that person answers, Twilio runs the TwiML at `whisperUrl` on
   * their leg only (the briefing), then bridges them with the caller (<Number url> / <Sip url>).
   */
  warmTransfer(callSid: string, to: string, whisperUrl: string): Promise<void> {
    const r = new twilio.twiml.VoiceResponse();
    const dial = r.dial();
    if (isSipUri(to)) dial.sip({ url: whisperUrl, method: 'POST' }, to);
    else dial.number({ url: whisperUrl, method: 'POST' }, to);
    return this.updateCallTwiml(callSid, r.toString());
  }

  private accountPath(resource: string): string {
    return `/2010-04-01/Accounts/${encodeURIComponent(this.creds.accountSid)}/${resource}`;
  }

  private callPath(callSid: string): string {
    return this.accountPath(`Calls/${encodeURIComponent(callSid)}.json`);
  }

  private async post(operation: string, path: string, form: URLSearchParams): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${this.creds.accountSid}:${this.creds.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(TWILIO_REST_TIMEOUT_MS),
    });
    const text = await res.text().catch(() => '');
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    if (!res.ok) throw new TwilioApiError(operation, res.status, body, text);
    return body ?? {};
  }
}
