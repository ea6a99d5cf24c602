/**
 * A loopback fake of Twilio's REST API (2010-04-01) for outbound-call tests, and of Twilio's side
 * of the call webhooks it triggers.
 *
 * REST, as Twilio documents it (https://www.twilio.com/docs/voice/api/call-resource):
 * - POST /2010-04-01/Accounts/{AccountSid}/Calls.json — form To, From, Url (or Twiml), Method,
 *   StatusCallback, StatusCallbackEvent (repeated), StatusCallbackMethod, MachineDetection,
 *   AsyncAmd, AsyncAmdStatusCallback → 201 `{ sid: "CA…", status: "queued", … }`.
 * - POST …/Calls/{CallSid}.json — Status=completed|canceled, or Twiml / Url → 200 call JSON;
 *   unknown sid → 404 (code 20404).
 * - POST …/Messages.json — To, From, Body → 201 `{ sid: "SM…", status: "queued" }`.
 * Every request must carry `Authorization: Basic base64(AccountSid:AuthToken)` of a known account
 * for the AccountSid in the path (else 401, code 20003). Errors use Twilio's JSON error shape
 * `{ code, message, more_info, status }`.
 *
 * Webhooks, driven by the test the way Twilio would send them: status callbacks (only for the
 * subscribed StatusCallbackEvents, plus the final one Twilio always sends), the answered call's
 * `Url` fetch, async AMD results and any other signed POST (a warm-transfer whisper). Each is a
 * form POST signed with X-Twilio-Signature over the URL Twilio was given, using the account's
 * auth token; `reach` maps that public URL to where the server under test listens.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { twilioSignature } from '../../src/transports/twilio/signature.js';

export interface FakeTwilioRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly form: URLSearchParams;
}

export interface FakeTwilioCall {
  readonly sid: string;
  readonly accountSid: string;
  readonly to: string;
  readonly from: string;
  /** The create request's form, as sent. */
  readonly create: URLSearchParams;
  /** Twilio's view of the call: queued, initiated, ringing, in-progress, completed, busy, … */
  status: string;
  /** Forms of every update (Calls/{sid}.json) in order. */
  readonly updates: URLSearchParams[];
  sequenceNumber: number;
  answeredAtMs?: number;
}

export interface FakeTwilioMessage {
  readonly sid: string;
  readonly accountSid: string;
  readonly form: URLSearchParams;
}

/** A webhook POST the fake made and what came back. */
export interface WebhookResult {
  readonly status: number;
  readonly body: string;
}

export interface FakeTwilioOptions {
  /** AccountSid → AuthToken of the accounts the fake knows. */
  readonly accounts: Readonly<Record<string, string>>;
  /** Maps the public URL Parley handed Twilio to the URL the test server listens at. Default: unchanged. */
  readonly reach?: (publicUrl: string) => string;
}

export interface FakeTwilioApi {
  /** Base URL to use as the Twilio REST base (http://127.0.0.1:port). */
  readonly url: string;
  readonly requests: FakeTwilioRequest[];
  /** Calls created, in order. */
  readonly calls: FakeTwilioCall[];
  readonly messages: FakeTwilioMessage[];
  /** The call with this sid; throws if the fake never created it. */
  call(sid: string): FakeTwilioCall;
  /** The next Calls.json create answers this error instead (once). */
  failNextCreate(status: number, code: number, message: string): void;
  /**
   * Moves the call to `callStatus` and POSTs the status callback if the call subscribed to that
   * event (final statuses are always sent, as Twilio does). Undefined when nothing was sent.
   */
  sendStatus(sid: string, callStatus: string, extra?: Readonly<Record<string, string>>): Promise<WebhookResult | undefined>;
  /** The callee answers: Twilio fetches the call's `Url` (with `extra`, e.g. AnsweredBy for synchronous AMD) and gets TwiML. */
  answer(sid: string, extra?: Readonly<Record<string, string>>): Promise<WebhookResult>;
  /** An async AMD result to AsyncAmdStatusCallback. */
  sendAmd(sid: string, answeredBy: string): Promise<WebhookResult>;
  /** Any webhook Twilio would sign with this account's token (e.g. a whisper URL from <Number url>). */
  postSigned(accountSid: string, publicUrl: string, params: Readonly<Record<string, string>>): Promise<WebhookResult>;
  close(): Promise<void>;
}

const API = '/2010-04-01/Accounts/';
/** Which StatusCallbackEvent reports which CallStatus. */
const EVENT_OF: Readonly<Record<string, string>> = { queued: 'initiated', initiated: 'initiated', ringing: 'ringing', 'in-progress': 'answered' };
const FINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

const sid = (prefix: string): string => prefix + randomBytes(16).toString('hex');

async function readBody(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s;
}

function twilioError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

function callJson(c: FakeTwilioCall): Record<string, unknown> {
  return { sid: c.sid, account_sid: c.accountSid, to: c.to, from: c.from, status: c.status, direction: 'outbound-api', api_version: '2010-04-01' };
}

export async function startFakeTwilioApi(o: FakeTwilioOptions): Promise<FakeTwilioApi> {
  const requests: FakeTwilioRequest[] = [];
  const calls: FakeTwilioCall[] = [];
  const messages: FakeTwilioMessage[] = [];
  let nextCreateError: { status: number; code: number; message: string } | undefined;
  const reach = o.reach ?? ((u: string) => u);

  const server = createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0] as string;
    const form = new URLSearchParams(await readBody(req));
    requests.push({ method: req.method ?? '', path, authorization: req.headers.authorization, form });
    if (req.method !== 'POST' || !path.startsWith(API)) return twilioError(res, 404, 20404, 'The requested resource was not found');
    const [accountSid = '', ...rest] = path.slice(API.length).split('/');
    const token = o.accounts[accountSid];
    if (token === undefined || req.headers.authorization !== `Basic ${Buffer.from(`${accountSid}:${token}`).toString('base64')}`) {
      return twilioError(res, 401, 20003, 'Authenticate');
    }
    const resource = rest.join('/');
    if (resource === 'Calls.json') {
      if (nextCreateError) {
        const e = nextCreateError;
        nextCreateError = undefined;
        return twilioError(res, e.status, e.code, e.message);
      }
      if (!form.get('To')) return twilioError(res, 400, 21201, "No 'To' number is specified");
      if (!form.get('From')) return twilioError(res, 400, 21603, "A 'From' phone number is required");
      if (!form.get('Url') && !form.get('Twiml')) return twilioError(res, 400, 21205, 'Url parameter is required');
      const call: FakeTwilioCall = { sid: sid('CA'), accountSid, to: form.get('To') as string, from: form.get('From') as string, create: form, status: 'queued', updates: [], sequenceNumber: 0 };
      calls.push(call);
      return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(callJson(call)));
    }
    const update = /^Calls\/(CA[0-9a-zA-Z]+)\.json$/.exec(resource);
    if (update) {
      const call = calls.find((c) => c.sid === update[1] && c.accountSid === accountSid);
      if (!call) return twilioError(res, 404, 20404, `The requested resource ${path} was not found`);
      call.updates.push(form);
      const status = form.get('Status');
      if (status === 'completed') call.status = 'completed';
      // `canceled` only affects a call that has not been answered.
      if (status === 'canceled' && ['queued', 'initiated', 'ringing'].includes(call.status)) call.status = 'canceled';
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(callJson(call)));
    }
    if (resource === 'Messages.json') {
      if (!form.get('To')) return twilioError(res, 400, 21604, "A 'To' phone number is required");
      if (!form.get('From')) return twilioError(res, 400, 21603, "A 'From' phone number is required");
      if (!form.get('Body')) return twilioError(res, 400, 21602, 'Message body is required');
      const message: FakeTwilioMessage = { sid: sid('SM'), accountSid, form };
      messages.push(message);
      return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ sid: message.sid, account_sid: accountSid, status: 'queued', to: form.get('To'), from: form.get('From'), body: form.get('Body') }));
    }
    return twilioError(res, 404, 20404, `The requested resource ${path} was not found`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const findCall = (callSid: string): FakeTwilioCall => {
    const c = calls.find((x) => x.sid === callSid);
    if (!c) throw new Error(`the fake Twilio never created call ${callSid}`);
    return c;
  };

  const postSigned = async (accountSid: string, publicUrl: string, params: Readonly<Record<string, string>>): Promise<WebhookResult> => {
    const token = o.accounts[accountSid];
    if (token === undefined) throw new Error(`unknown account ${accountSid}`);
    const res = await fetch(reach(publicUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(token, publicUrl, { ...params }) },
      body: new URLSearchParams({ ...params }).toString(),
    });
    return { status: res.status, body: await res.text() };
  };

  const baseParams = (c: FakeTwilioCall): Record<string, string> => ({
    AccountSid: c.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: c.sid,
    Direction: 'outbound-api',
    From: c.from,
    To: c.to,
    Caller: c.from,
    Called: c.to,
  });

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    calls,
    messages,
    call: findCall,
    failNextCreate(status, code, message) {
      nextCreateError = { status, code, message };
    },
    async sendStatus(callSid, callStatus, extra = {}) {
      const c = findCall(callSid);
      c.status = callStatus;
      if (callStatus === 'in-progress') c.answeredAtMs = Date.now();
      const url = c.create.get('StatusCallback');
      const events = c.create.getAll('StatusCallbackEvent');
      const subscribed = FINAL.has(callStatus) || events.includes(EVENT_OF[callStatus] ?? '');
      if (!url || !subscribed) return undefined;
      const params: Record<string, string> = {
        ...baseParams(c),
        CallStatus: callStatus,
        CallbackSource: 'call-progress-events',
        Timestamp: new Date().toUTCString(),
        SequenceNumber: String(c.sequenceNumber++),
        ...(FINAL.has(callStatus) ? { CallDuration: String(c.answeredAtMs ? Math.round((Date.now() - c.answeredAtMs) / 1000) : 0) } : {}),
        ...extra,
      };
      return postSigned(c.accountSid, url, params);
    },
    async answer(callSid, extra = {}) {
      const c = findCall(callSid);
      c.status = 'in-progress';
      c.answeredAtMs ??= Date.now();
      const url = c.create.get('Url');
      if (!url) throw new Error(`call ${callSid} was created with inline Twiml, not a Url`);
      return postSigned(c.accountSid, url, { ...baseParams(c), CallStatus: 'in-progress', ...extra });
    },
    async sendAmd(callSid, answeredBy) {
      const c = findCall(callSid);
      const url = c.create.get('AsyncAmdStatusCallback');
      if (!url) throw new Error(`call ${callSid} did not ask for async AMD`);
      return postSigned(c.accountSid, url, { AccountSid: c.accountSid, CallSid: c.sid, AnsweredBy: answeredBy, MachineDetectionDuration: '2400' });
    },
    postSigned,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
