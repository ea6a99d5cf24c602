/**
 * Placing an outbound call: validate, check quotas, store the call (status `queued`), then ask
 * Twilio to dial. When the callee answers, Twilio fetches `/twilio/outbound/:callId` and gets the
 * same <Connect><Stream> an inbound call gets; progress arrives on `/twilio/status`.
 */
import { ApiError } from '../api/errors.js';
import { checkQuotas } from '../quotas/quotas.js';
import { LIVE_CALL_STATUSES, type CallRow, type Store } from '../store/store.js';
import { normalizeNumber } from '../tenants/directory.js';
import type { TenantConfig } from '../tenants/schema.js';
import { TwilioApiError, TwilioRestClient } from '../transports/twilio/rest-client.js';
import { TWILIO_OUTBOUND_PATH, TWILIO_STATUS_PATH } from '../transports/twilio/webhook-routes.js';

export const E164 = /^\+[1-9]\d{6,14}$/;

export interface OutboundDeps {
  readonly store: Store;
  /** PARLEY_PUBLIC_URL: where Twilio reaches this server. Required to place calls. */
  readonly publicUrl?: string;
  /** Twilio REST base URL (a loopback fake in tests). */
  readonly twilioApiBaseUrl: string;
  readonly now?: () => number;
}

export interface OutboundCallRequest {
  readonly tenant: TenantConfig;
  /** Default: the tenant's default agent. */
  readonly agentId?: string;
  /** E.164 number to call. */
  readonly to: string;
  /** One of the tenant's numbers; default: the agent's first number, else the tenant's first. */
  readonly from?: string;
  /** Given to the agent like an inbound call's custom parameters (stored in metadata.variables). */
  readonly variables?: Readonly<Record<string, string>>;
  /** Answering-machine detection (asynchronous: the result arrives as AnsweredBy on /twilio/status). */
  readonly machineDetection?: boolean;
  /** Who asked: `api`, `callback`, … (stored in metadata.source). */
  readonly source?: string;
  /** Extra metadata, e.g. the callback id a scheduled call comes from. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Call progress events Parley subscribes to on every outbound call. */
const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'] as const;

function invalid(path: string, message: string): ApiError {
  return new ApiError('validation_failed', { message: `${path}: ${message}`, details: [{ path, message }] });
}

/** The tenant number an outbound call shows, after validating an explicit one. */
function callerIdOf(tenant: TenantConfig, agentId: string, from: string | undefined): string {
  if (from !== undefined) {
    const owned = tenant.phoneNumbers.find((p) => normalizeNumber(p.number) === normalizeNumber(from));
    if (!owned) throw invalid('from', 'must be one of the tenant\'s phone numbers');
    return owned.number;
  }
  const chosen = tenant.phoneNumbers.find((p) => p.agentId === agentId) ?? tenant.phoneNumbers[0];
  if (!chosen) throw new ApiError('not_configured', { message: 'The tenant has no phone numbers to call from (phoneNumbers)' });
  return chosen.number;
}

/**
 * Places an outbound call and returns its stored row (status `queued`, carrier call sid set).
 * Throws ApiError: validation_failed, not_configured (no Twilio credentials, no public URL, no
 * number), quota_exceeded (with Retry-After), upstream_failed (Twilio refused; the call row is
 * then ended `failed` and `details.callId` names it).
 */
export async function placeOutboundCall(deps: OutboundDeps, req: OutboundCallRequest): Promise<CallRow> {
  const now = deps.now ?? Date.now;
  const { tenant } = req;
  if (!E164.test(req.to)) throw invalid('to', 'must be an E.164 number like +15550100000');
  const agentId = req.agentId ?? tenant.defaultAgentId;
  if (!tenant.agents[agentId]) throw invalid('agentId', `unknown agent "${agentId}"`);
  const from = callerIdOf(tenant, agentId, req.from);

  const { accountSid, authToken } = tenant.twilio ?? {};
  if (!accountSid || !authToken) {
    throw new ApiError('not_configured', { message: 'Outbound calls need twilio.accountSid and twilio.authToken in the tenant configuration' });
  }
  if (!deps.publicUrl) {
    throw new ApiError('not_configured', { message: 'Outbound calls need PARLEY_PUBLIC_URL: Twilio fetches the call\'s instructions from it' });
  }

  const quota = await checkQuotas(deps.store, tenant, now());
  if (!quota.ok) {
    throw new ApiError('quota_exceeded', {
      message: quota.message,
      details: { quota: quota.quota, limit: quota.limit, used: quota.used, retryAfterS: quota.retryAfterS },
      headers: { 'Retry-After': String(quota.retryAfterS) },
    });
  }

  const startedAtMs = now();
  const call = await deps.store.calls.create({
    tenantId: tenant.id,
    agentId,
    carrier: 'twilio',
    direction: 'outbound',
    fromNumber: from,
    toNumber: req.to,
    status: 'queued',
    startedAtMs,
    metadata: {
      ...req.metadata,
      source: req.source ?? 'api',
      variables: { ...req.variables },
      ...(req.machineDetection ? { machineDetection: true } : {}),
    },
  });
  await deps.store.events.append({ callId: call.id, atMs: startedAtMs, type: 'call.queued', data: { source: req.source ?? 'api', machineDetection: req.machineDetection === true } });

  const client = new TwilioRestClient({ accountSid, authToken }, deps.twilioApiBaseUrl);
  // The call id in the StatusCallback URL finds the call even if a callback outruns our storing of the CallSid.
  const statusCallback = `${deps.publicUrl}${TWILIO_STATUS_PATH}?callId=${encodeURIComponent(call.id)}`;
  let created: { sid: string; status: string };
  try {
    created = await client.createCall({
      to: req.to,
      from,
      url: `${deps.publicUrl}${TWILIO_OUTBOUND_PATH}/${encodeURIComponent(call.id)}`,
      statusCallback,
      statusCallbackEvents: STATUS_EVENTS,
      machineDetection: req.machineDetection === true,
    });
  } catch (err) {
    const endedAtMs = now();
    const twilioStatus = err instanceof TwilioApiError ? err.status : null;
    const twilioCode = err instanceof TwilioApiError ? (err.code ?? null) : null;
    const message = (err as Error).message;
    await deps.store.events.append({ callId: call.id, atMs: endedAtMs, type: 'carrier.error', data: { operation: 'create', httpStatus: twilioStatus, code: twilioCode, message } });
    await deps.store.calls.end(call.id, { status: 'failed', endReason: 'carrier_rejected', endedAtMs });
    throw new ApiError('upstream_failed', { message: `Twilio did not place the call: ${message}`, details: { callId: call.id, twilioStatus, twilioCode }, cause: err });
  }

  await deps.store.calls.update(call.id, { carrierCallSid: created.sid });
  await deps.store.events.append({ callId: call.id, atMs: now(), type: 'carrier.call_created', data: { callSid: created.sid, status: created.status } });
  const stored = await deps.store.calls.get(call.id);
  if (stored && !(LIVE_CALL_STATUSES as readonly string[]).includes(stored.status)) {
    // Hung up through the API while Twilio was creating it: make Twilio drop it too.
    await client.endCall(created.sid, 'completed').catch(() => undefined);
  }
  const { turns: _turns, events: _events, ...row } = stored ?? { ...call, carrierCallSid: created.sid, turns: [], events: [] };
  return row;
}
