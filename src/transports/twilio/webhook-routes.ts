import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LiveCalls } from '../../calls/live-calls.js';
import { checkQuotas } from '../../quotas/quotas.js';
import { LIVE_CALL_STATUSES, type CallRow, type CallStatus, type EndedCallStatus, type Store } from '../../store/store.js';
import type { NumberRoute } from '../../tenants/directory.js';
import type { TenantConfig } from '../../tenants/schema.js';
import { TWILIO_WHISPER_PATH } from './call-control.js';
import { isValidTwilioSignature } from './signature.js';
import type { StreamTokens } from './stream-token.js';
import { connectStreamTwiml, emptyTwiml, hangupTwiml, sayAndHangupTwiml, sayTwiml } from './twiml.js';
import type { WhisperTokens } from './whisper-tokens.js';

/** Heard by callers who dial a number no tenant owns. */
export const UNKNOWN_NUMBER_MESSAGE = 'Sorry, this number is not in service. Goodbye.';
export const TWILIO_STREAM_PATH = '/twilio/stream';
/** Twilio fetches `${publicUrl}/twilio/outbound/<callId>` when an outbound call is answered. */
export const TWILIO_OUTBOUND_PATH = '/twilio/outbound';
/** Call progress (StatusCallback) and async AMD results; also the URL to set on Twilio numbers. */
export const TWILIO_STATUS_PATH = '/twilio/status';
/** Name of the <Parameter> carrying the stream token; arrives in start.customParameters. */
export const STREAM_TOKEN_PARAMETER = 'parleyToken';

const CALL_SID = /^CA[0-9a-zA-Z]{10,64}$/;

export interface TwilioWebhookDeps {
  readonly routeNumber: (number: string) => NumberRoute | undefined;
  readonly streamTokens: StreamTokens;
  /** PARLEY_PUBLIC_URL, e.g. https://parley.example.com. */
  readonly publicUrl?: string;
  /**
   * Enables tenant quotas on incoming calls (and the record of calls refused for them). Pass it:
   * without it incoming calls are answered unchecked, and a warning says so at start-up.
   */
  readonly store?: Store;
  readonly now?: () => number;
}

export interface TwilioCallWebhookDeps {
  readonly store: Store;
  /** The tenant by id (its auth token signs the webhooks of its calls). */
  readonly tenant: (id: string) => TenantConfig | undefined;
  readonly streamTokens: StreamTokens;
  readonly whisperTokens: WhisperTokens;
  /** Sessions running here end their own calls (they know the reason); status callbacks leave those alone. */
  readonly liveCalls: LiveCalls;
  readonly publicUrl?: string;
  readonly now?: () => number;
}

type FormParams = Record<string, string>;

/** The URL Twilio requested, which is what it signed. */
function publicRequestUrl(req: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return `${publicUrl}${req.url}`;
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0] ?? 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}${req.url}`;
}

function streamUrl(req: FastifyRequest, publicUrl: string | undefined): string {
  const base = publicRequestUrl(req, publicUrl).replace(/^http/, 'ws');
  return new URL(TWILIO_STREAM_PATH, base).toString();
}

/** The string fields of a parsed body (Twilio posts forms; anything else is not Twilio). */
function formParams(body: unknown): FormParams {
  const params: FormParams = {};
  if (body === null || typeof body !== 'object') return params;
  for (const [k, v] of Object.entries(body)) if (typeof v === 'string') params[k] = v;
  return params;
}

/** Fastify scope that parses Twilio's application/x-www-form-urlencoded bodies. */
function twilioScope(app: FastifyInstance, routes: (scope: FastifyInstance) => void): void {
  app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
      const params: FormParams = {};
      for (const [k, v] of new URLSearchParams(body as string)) params[k] = v;
      done(null, params);
    });
    routes(scope);
  });
}

/** True when the request may proceed: the tenant has no auth token, or the signature matches. Replies 403 otherwise. */
function checkSignature(req: FastifyRequest, reply: FastifyReply, tenant: TenantConfig, params: FormParams, publicUrl: string | undefined): boolean {
  const authToken = tenant.twilio?.authToken;
  if (!authToken) return true;
  const signature = req.headers['x-twilio-signature'] as string | undefined;
  if (isValidTwilioSignature(authToken, signature, publicRequestUrl(req, publicUrl), params)) return true;
  req.log.warn({ tenantId: tenant.id, callSid: params.CallSid }, 'rejected Twilio webhook with a missing or invalid signature');
  void reply.code(403).type('application/json').send({ error: { code: 'invalid_signature', message: 'X-Twilio-Signature is missing or invalid' } });
  return false;
}

function badCallSid(reply: FastifyReply): FastifyReply {
  return reply.code(400).type('application/json').send({ error: { code: 'validation_failed', message: 'CallSid is missing or malformed' } });
}

const isLive = (s: CallStatus): boolean => (LIVE_CALL_STATUSES as readonly CallStatus[]).includes(s);

/**
 * POST /twilio/voice — Twilio's incoming-call webhook. Routes by the dialled number (`To`) to a
 * tenant, verifies X-Twilio-Signature when the tenant has an auth token, checks the tenant's
 * quotas, and answers with TwiML that connects the call to Parley's bidirectional media stream —
 * or, over a quota, says the tenant's `quotas.message` and hangs up (the refusal is stored as a
 * `failed` call with endReason `quota_exceeded:<quota>`).
 */
export function registerTwilioWebhooks(app: FastifyInstance, deps: TwilioWebhookDeps): void {
  const now = deps.now ?? Date.now;
  if (!deps.store) app.log.warn('Twilio voice webhook registered without a store: tenant quotas are not enforced on incoming calls');
  twilioScope(app, (scope) => {
    scope.post('/twilio/voice', async (req, reply) => {
      const params = formParams(req.body);
      const to = params.To ?? '';
      const callSid = params.CallSid ?? '';
      reply.type('text/xml');
      const route = deps.routeNumber(to);
      if (!route) {
        req.log.warn({ to, callSid }, 'incoming call for a number no tenant owns');
        return sayAndHangupTwiml(UNKNOWN_NUMBER_MESSAGE);
      }
      const { tenant, agentId } = route;
      if (!checkSignature(req, reply, tenant, params, deps.publicUrl)) return reply;
      if (!CALL_SID.test(callSid)) return badCallSid(reply);
      if (deps.store) {
        const refused = await refuseOverQuota(deps.store, tenant, agentId, params, now(), req);
        if (refused) return refused;
      }
      const token = deps.streamTokens.issue({ callSid, tenantId: tenant.id, agentId, from: params.From ?? '', to });
      req.log.info({ tenantId: tenant.id, callSid }, 'incoming call accepted');
      return connectStreamTwiml(streamUrl(req, deps.publicUrl), { [STREAM_TOKEN_PARAMETER]: token });
    });
  });
}

/** The TwiML refusing an incoming call over quota (after storing the refusal), or undefined to answer it. */
async function refuseOverQuota(store: Store, tenant: TenantConfig, agentId: string, params: FormParams, nowMs: number, req: FastifyRequest): Promise<string | undefined> {
  let check: Awaited<ReturnType<typeof checkQuotas>>;
  try {
    check = await checkQuotas(store, tenant, nowMs);
  } catch (err) {
    // Quotas bound cost; a caller is not turned away because the check itself failed.
    req.log.error({ tenantId: tenant.id, err: (err as Error).message }, 'quota check failed; answering the call');
    return undefined;
  }
  if (check.ok) return undefined;
  req.log.warn({ tenantId: tenant.id, callSid: params.CallSid, quota: check.quota, limit: check.limit, used: check.used }, 'incoming call refused: quota exceeded');
  try {
    const call = await store.calls.create({
      tenantId: tenant.id,
      agentId,
      carrier: 'twilio',
      carrierCallSid: params.CallSid ?? null,
      direction: 'inbound',
      fromNumber: params.From ?? '',
      toNumber: params.To ?? '',
      status: 'failed',
      startedAtMs: nowMs,
    });
    await store.calls.update(call.id, { endReason: `quota_exceeded:${check.quota}`, endedAtMs: nowMs });
    await store.events.append({ callId: call.id, atMs: nowMs, type: 'quota.exceeded', data: { quota: check.quota, limit: check.limit, used: check.used } });
  } catch (err) {
    req.log.error({ tenantId: tenant.id, err: (err as Error).message }, 'could not store a call refused over quota');
  }
  return sayAndHangupTwiml(tenant.quotas.message);
}

/** Twilio CallStatus → Parley status. `initiated` is Twilio's "dialled", still queued for us. */
const CARRIER_STATUS: Readonly<Record<string, CallStatus>> = {
  queued: 'queued',
  initiated: 'queued',
  ringing: 'ringing',
  'in-progress': 'in_progress',
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no_answer',
  failed: 'failed',
  canceled: 'canceled',
};

/** Order of the live statuses: a late `ringing` never moves an answered call back. */
const LIVE_RANK: Partial<Record<CallStatus, number>> = { queued: 0, ringing: 1, in_progress: 2 };

/**
 * The call-lifecycle webhooks:
 * - POST /twilio/outbound/:callId — Twilio's `Url` for an answered outbound call: connects it to the
 *   media stream with a token naming the stored call; an unknown or ended call gets <Hangup/>.
 * - POST /twilio/status — StatusCallback for outbound calls (and inbound numbers, if configured):
 *   moves the call forward (never back, never out of an ended state), stores AnsweredBy, records a
 *   `carrier.status` event; also takes async AMD results. Unknown calls get 200 (Twilio would retry).
 * - POST /twilio/whisper/:token — the briefing a warm-transfer destination hears before the bridge.
 * Every request is checked against the owning tenant's auth token when it has one.
 */
export function registerTwilioCallWebhooks(app: FastifyInstance, deps: TwilioCallWebhookDeps): void {
  const now = deps.now ?? Date.now;
  twilioScope(app, (scope) => {
    scope.post<{ Params: { callId: string } }>(`${TWILIO_OUTBOUND_PATH}/:callId`, async (req, reply) => {
      const params = formParams(req.body);
      reply.type('text/xml');
      const call = await deps.store.calls.get(req.params.callId);
      const tenant = call && deps.tenant(call.tenantId);
      if (!call || call.direction !== 'outbound' || !tenant) {
        req.log.warn({ callId: req.params.callId, callSid: params.CallSid }, 'outbound call answered that Parley does not know; hanging up');
        return hangupTwiml();
      }
      if (!checkSignature(req, reply, tenant, params, deps.publicUrl)) return reply;
      const callSid = params.CallSid ?? '';
      if (!CALL_SID.test(callSid)) return badCallSid(reply);
      const log = req.log.child({ tenantId: tenant.id, callId: call.id, callSid });
      if (!isLive(call.status)) {
        log.warn({ status: call.status }, 'outbound call answered after it ended in Parley; hanging up');
        return hangupTwiml();
      }
      if (call.carrierCallSid && call.carrierCallSid !== callSid) {
        log.warn({ expected: call.carrierCallSid }, 'outbound call answered with another CallSid; hanging up');
        return hangupTwiml();
      }
      const agentId = call.agentId ?? tenant.defaultAgentId;
      if (!tenant.agents[agentId]) {
        log.error({ agentId }, 'the outbound call\'s agent no longer exists; hanging up');
        await deps.store.calls.end(call.id, { status: 'failed', endReason: 'agent_missing', endedAtMs: now() });
        return hangupTwiml();
      }
      const nowMs = now();
      const answeredBy = params.AnsweredBy || undefined;
      await deps.store.calls.update(call.id, {
        status: 'in_progress',
        ...(call.answeredAtMs === null ? { answeredAtMs: nowMs } : {}),
        ...(call.carrierCallSid === null ? { carrierCallSid: callSid } : {}),
        ...(answeredBy ? { answeredBy } : {}),
      });
      await deps.store.events.append({ callId: call.id, atMs: nowMs, type: 'carrier.answered', data: answeredBy ? { answeredBy } : {} });
      const token = deps.streamTokens.issue({ callSid, tenantId: tenant.id, agentId, callId: call.id, from: call.fromNumber, to: call.toNumber });
      log.info('outbound call answered');
      return connectStreamTwiml(streamUrl(req, deps.publicUrl), { [STREAM_TOKEN_PARAMETER]: token });
    });

    scope.post<{ Querystring: { callId?: string } }>(TWILIO_STATUS_PATH, async (req, reply) => {
      const params = formParams(req.body);
      reply.type('text/xml');
      const callSid = params.CallSid ?? '';
      if (!CALL_SID.test(callSid)) return badCallSid(reply);
      const byId = typeof req.query.callId === 'string' && req.query.callId !== '' ? await deps.store.calls.get(req.query.callId) : undefined;
      const call = byId ?? (await deps.store.calls.get(callSid));
      const tenant = call && deps.tenant(call.tenantId);
      if (!call || !tenant) {
        // An inbound call whose stream has not started, or not Parley's: nothing to update.
        req.log.debug({ callSid }, 'status callback for an unknown call ignored');
        return emptyTwiml();
      }
      if (!checkSignature(req, reply, tenant, params, deps.publicUrl)) return reply;
      if (call.carrierCallSid && call.carrierCallSid !== callSid) {
        req.log.warn({ callId: call.id, callSid, expected: call.carrierCallSid }, 'status callback for another CallSid ignored');
        return emptyTwiml();
      }
      await applyCarrierStatus(deps, call, params, now(), req);
      return emptyTwiml();
    });

    scope.post<{ Params: { token: string } }>(`${TWILIO_WHISPER_PATH}/:token`, async (req, reply) => {
      const params = formParams(req.body);
      reply.type('text/xml');
      const whisper = deps.whisperTokens.resolve(req.params.token);
      if (!whisper.ok) {
        // The transfer still connects; the person answering just hears no briefing.
        req.log.warn({ reason: whisper.reason }, 'warm-transfer whisper not available');
        return emptyTwiml();
      }
      const tenant = deps.tenant(whisper.tenantId);
      if (!tenant) return emptyTwiml();
      if (!checkSignature(req, reply, tenant, params, deps.publicUrl)) return reply;
      return sayTwiml(whisper.text);
    });
  });
}

/** Applies one status callback (or async AMD result) to a stored call. */
async function applyCarrierStatus(deps: TwilioCallWebhookDeps, call: CallRow, params: FormParams, nowMs: number, req: FastifyRequest): Promise<void> {
  const answeredBy = params.AnsweredBy || undefined;
  const identity = call.carrierCallSid === null ? { carrierCallSid: params.CallSid as string } : {};
  if (params.CallStatus === undefined) {
    // Async AMD result: AnsweredBy without CallStatus.
    if (!answeredBy) return;
    await deps.store.calls.update(call.id, { answeredBy, ...identity });
    await deps.store.events.append({ callId: call.id, atMs: nowMs, type: 'carrier.amd', data: { answeredBy, ...(params.MachineDetectionDuration ? { durationMs: Number(params.MachineDetectionDuration) } : {}) } });
    return;
  }
  const raw = params.CallStatus;
  const mapped = CARRIER_STATUS[raw];
  await deps.store.events.append({
    callId: call.id,
    atMs: nowMs,
    type: 'carrier.status',
    data: {
      status: raw,
      ...(params.SequenceNumber ? { sequenceNumber: Number(params.SequenceNumber) } : {}),
      ...(params.CallDuration ? { durationS: Number(params.CallDuration) } : {}),
      ...(answeredBy ? { answeredBy } : {}),
    },
  });
  const patch: Parameters<Store['calls']['update']>[1] = { ...identity, ...(answeredBy ? { answeredBy } : {}) };
  if (mapped && isLive(call.status)) {
    const rank = LIVE_RANK[mapped];
    if (rank !== undefined) {
      if (rank > (LIVE_RANK[call.status] ?? 0)) {
        patch.status = mapped;
        if (mapped === 'in_progress' && call.answeredAtMs === null) patch.answeredAtMs = nowMs;
      }
    } else if (deps.liveCalls.has(call.id)) {
      // The session sees its stream stop and ends the call with the real reason.
      req.log.debug({ callId: call.id, status: raw }, 'carrier ended a call whose session runs here; the session records the end');
    } else {
      await deps.store.calls.update(call.id, patch);
      await deps.store.calls.end(call.id, { status: mapped as EndedCallStatus, endReason: `carrier_${mapped}`, endedAtMs: nowMs });
      return;
    }
  }
  await deps.store.calls.update(call.id, patch);
}
