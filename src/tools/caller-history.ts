/**
 * caller_history: the remote number's earlier calls with this tenant (any of its agents), newest
 * first, so the agent can greet a returning caller with context. Never the current call.
 */
import type { CallRow } from '../store/store.js';
import { isE164 } from './phone.js';
import type { AgentTool, ToolServices } from './types.js';

export const CALLER_HISTORY_LIMIT = 5;

export interface PastCall {
  readonly date: string;
  readonly direction: CallRow['direction'];
  readonly status: CallRow['status'];
  /** Talk time (from answer to end); 0 for calls never answered, null while still going on. */
  readonly durationSeconds: number | null;
  readonly summary?: string;
}

export function describePastCall(c: CallRow): PastCall {
  const durationSeconds = c.endedAtMs === null ? null : c.answeredAtMs === null ? 0 : Math.max(0, Math.round((c.endedAtMs - c.answeredAtMs) / 1000));
  return {
    date: new Date(c.startedAtMs).toISOString(),
    direction: c.direction,
    status: c.status,
    durationSeconds,
    ...(c.summary ? { summary: c.summary } : {}),
  };
}

export function createCallerHistoryTool(services: Pick<ToolServices, 'store'>): AgentTool {
  return {
    spec: {
      name: 'caller_history',
      description:
        `Look up this caller's earlier calls with this business (up to ${CALLER_HISTORY_LIMIT}, newest first): date, direction, ` +
        'outcome, length in seconds and a summary when one exists. Use it to recognise a returning caller or pick up an earlier ' +
        'conversation. Do not read dates or summaries out verbatim unless the caller asks.',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
    },
    async run(_args, ctx) {
      // A withheld number ("anonymous") is shared by every withheld caller: their calls are not this caller's history.
      if (!isE164(ctx.remoteNumber)) return { ok: true, data: { calls: [], message: "The caller's number is withheld, so there is no history." } };
      const rows = await services.store.calls.listByNumber(ctx.tenant.id, ctx.remoteNumber, { limit: CALLER_HISTORY_LIMIT, excludeId: ctx.callId });
      if (rows.length === 0) return { ok: true, data: { calls: [], message: 'No earlier calls from this number.' } };
      return { ok: true, data: { calls: rows.map(describePastCall) } };
    },
  };
}
