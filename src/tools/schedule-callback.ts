/**
 * schedule_callback: promises the person on the call a call back, stored as a callback row that
 * the scheduler places when due (from the tenant's number on this call, with the same agent). The
 * callback goes only to the remote party: the model does not choose the number.
 */
import { isE164 } from './phone.js';
import type { AgentTool, ToolServices } from './types.js';

/** Furthest ahead a callback may be scheduled. */
export const MAX_CALLBACK_AHEAD_MS = 30 * 24 * 60 * 60_000;
const MAX_IN_MINUTES = MAX_CALLBACK_AHEAD_MS / 60_000;
export const MAX_REASON_CHARS = 500;
/** ISO-8601 date-time with seconds optional and an explicit offset: the model must say which zone it means. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The due time in ms, or an error for the model. */
export function resolveCallbackTime(args: Record<string, unknown>, nowMs: number): { dueAtMs: number } | { error: string } {
  const at = args['at'];
  const inMinutes = args['inMinutes'];
  if ((at === undefined) === (inMinutes === undefined)) return { error: 'give exactly one of `at` or `inMinutes`' };
  let dueAtMs: number;
  if (at !== undefined) {
    if (typeof at !== 'string' || !ISO_WITH_OFFSET.test(at)) return { error: '`at` must be an ISO-8601 date-time with an offset, like 2026-03-14T15:30:00-05:00' };
    dueAtMs = Date.parse(at);
    // Date.parse rolls 2026-02-30 over into March; a calendar date that does not exist is refused.
    const [y, m, d] = at.slice(0, 10).split('-').map(Number) as [number, number, number];
    const realDay = d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
    if (Number.isNaN(dueAtMs) || !realDay) return { error: `\`at\` is not a real date-time: ${at}` };
  } else {
    if (typeof inMinutes !== 'number' || !Number.isFinite(inMinutes)) return { error: '`inMinutes` must be a number' };
    dueAtMs = nowMs + Math.round(inMinutes * 60_000);
  }
  if (dueAtMs <= nowMs) return { error: 'that time is in the past; ask the caller for a later time' };
  if (dueAtMs - nowMs > MAX_CALLBACK_AHEAD_MS) return { error: 'callbacks can be scheduled at most 30 days ahead' };
  return { dueAtMs };
}

export function createScheduleCallbackTool(services: Pick<ToolServices, 'store'>): AgentTool {
  return {
    spec: {
      name: 'schedule_callback',
      description:
        'Schedule a call back to the caller\'s number (this number; you cannot choose another). Use it when the caller asks to be ' +
        'called back later, after agreeing on a time. Give either `at` (an exact date-time with offset) or `inMinutes`. ' +
        'Times in the past or more than 30 days ahead are refused. Answers the callback id and the time it was booked for (UTC).',
      parameters: {
        type: 'object',
        properties: {
          at: { type: 'string', description: 'When to call, ISO-8601 with offset, e.g. 2026-03-14T15:30:00-05:00.' },
          inMinutes: { type: 'number', minimum: 1, maximum: MAX_IN_MINUTES, description: 'Or: how many minutes from now to call.' },
          reason: { type: 'string', maxLength: MAX_REASON_CHARS, description: 'What the call back is about, for whoever makes it.' },
        },
        additionalProperties: false,
      },
    },
    async run(args, ctx) {
      const when = resolveCallbackTime(args, ctx.nowMs());
      if ('error' in when) return { ok: false, error: when.error };
      if (!isE164(ctx.remoteNumber)) return { ok: false, error: "the caller's number is unknown or is not a phone number, so no call back can be scheduled" };
      const reason = typeof args['reason'] === 'string' ? args['reason'].trim().slice(0, MAX_REASON_CHARS) : '';
      const row = await services.store.callbacks.create({
        tenantId: ctx.tenant.id,
        agentId: ctx.agentId,
        toNumber: ctx.remoteNumber,
        fromNumber: isE164(ctx.localNumber) ? ctx.localNumber : null,
        dueAtMs: when.dueAtMs,
        reason,
        sourceCallId: ctx.callId,
        nowMs: ctx.nowMs(),
      });
      return { ok: true, data: { callbackId: row.id, at: new Date(row.dueAtMs).toISOString() } };
    },
  };
}
