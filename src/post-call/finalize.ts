/**
 * What happens once a call has ended: its cost, its analysis, and the `call.ended` webhook.
 *
 * Order (each step written as soon as it is known, so a crash loses only what came after):
 * 1. usage and cost are written to the call;
 * 2. the analysis runs (bounded, see analysis.ts); summary and extraction are written, and the
 *    analysis's own tokens are added to the usage and cost;
 * 3. `call.ended` is queued with the call, transcript, usage, cost, summary and extraction.
 *
 * Constraint: never throws and never rejects — it runs after the caller hung up, with nobody to
 * report to but the log. Call it after `store.calls.end` (and after the recording is written).
 */
import type { Logger } from 'pino';
import type { LlmProvider } from '../providers/types.js';
import type { CallCost, CallDetail, CallUsage, Store } from '../store/store.js';
import { agentOf, type AgentConfig, type TenantConfig } from '../tenants/schema.js';
import type { WebhookEmitter } from '../webhooks/emitter.js';
import { analyzeCall, type AnalysisResult } from './analysis.js';
import { computeCost } from './cost.js';

export interface FinalizeDeps {
  store: Pick<Store, 'calls'>;
  webhooks: Pick<WebhookEmitter, 'emit'>;
  /** The model for the analysis: the agent's chain without `flow`; undefined when there is none. */
  createAnalysisLlm: (agent: AgentConfig) => LlmProvider | undefined;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Default ANALYSIS_TIMEOUT_MS (analysis.ts). */
  analysisTimeoutMs?: number;
}

export interface FinalizeInput {
  tenant: TenantConfig;
  /** The agent that took the call; the tenant's default agent when null. */
  agentId: string | null;
  callId: string;
  /** The call's metered usage (CallUsageMeter.snapshot). */
  usage: CallUsage;
  /** Aborts the analysis early (server shutdown). */
  signal?: AbortSignal;
}

/** The `data` of a `call.ended` event. */
export interface CallEndedData {
  call: {
    id: string;
    agentId: string | null;
    direction: 'inbound' | 'outbound';
    from: string;
    to: string;
    status: string;
    endReason: string | null;
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
    answeredBy: string | null;
  };
  transcript: { role: 'user' | 'agent'; text: string; startedAt: string; interrupted: boolean }[];
  usage: CallUsage;
  cost: CallCost;
  summary: string | null;
  extraction: Record<string, unknown> | null;
  recording: { available: boolean };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function callEndedData(call: CallDetail, usage: CallUsage, cost: CallCost, analysis: Pick<AnalysisResult, 'summary' | 'extraction'>): CallEndedData {
  return {
    call: {
      id: call.id,
      agentId: call.agentId,
      direction: call.direction,
      from: call.fromNumber,
      to: call.toNumber,
      status: call.status,
      endReason: call.endReason,
      startedAt: iso(call.startedAtMs),
      endedAt: call.endedAtMs === null ? null : iso(call.endedAtMs),
      durationMs: call.endedAtMs === null ? null : Math.max(0, call.endedAtMs - call.startedAtMs),
      answeredBy: call.answeredBy,
    },
    transcript: call.turns.filter((t) => t.text.trim() !== '').map((t) => ({ role: t.role, text: t.text, startedAt: iso(t.startedAtMs), interrupted: t.interrupted })),
    usage,
    cost,
    summary: analysis.summary ?? null,
    extraction: analysis.extraction ?? null,
    recording: { available: call.recording !== null && call.recording.deletedAtMs === undefined },
  };
}

export async function finalizeCall(deps: FinalizeDeps, input: FinalizeInput): Promise<void> {
  const { tenant, callId } = input;
  const ctx = { tenantId: tenant.id, callId };
  try {
    let usage = input.usage;
    let cost = computeCost(usage, tenant.prices);
    await deps.store.calls.update(callId, { usage, cost });

    const call = await deps.store.calls.get(callId, { tenantId: tenant.id });
    if (call === undefined) {
      deps.log.error(ctx, 'cannot finalize a call that is not in the store');
      return;
    }

    let analysis: Pick<AnalysisResult, 'summary' | 'extraction'> = {};
    const agent = agentOf(tenant, input.agentId ?? call.agentId);
    const llm = agent === undefined ? undefined : createLlm(deps, agent, ctx);
    if (agent !== undefined && llm !== undefined) {
      const r = await analyzeCall({
        transcript: call.turns,
        agent,
        llm,
        signal: input.signal ?? new AbortController().signal,
        ...(deps.analysisTimeoutMs !== undefined ? { timeoutMs: deps.analysisTimeoutMs } : {}),
      });
      analysis = r;
      // Errors name the failing part and the provider's (redacted) message, never transcript text.
      if (r.errors.length > 0) deps.log.warn({ ...ctx, errors: r.errors }, 'post-call analysis incomplete');
      if (r.summary !== undefined || r.extraction !== undefined) {
        await deps.store.calls.update(callId, { summary: r.summary ?? null, extraction: r.extraction ?? null });
      }
      if (r.usage.inputTokens > 0 || r.usage.outputTokens > 0) {
        usage = {
          ...usage,
          llmInputTokens: usage.llmInputTokens + r.usage.inputTokens,
          llmOutputTokens: usage.llmOutputTokens + r.usage.outputTokens,
          llmTokensEstimated: usage.llmTokensEstimated || r.usage.estimated,
        };
        cost = computeCost(usage, tenant.prices);
        await deps.store.calls.update(callId, { usage, cost });
      }
    }

    await deps.webhooks.emit(tenant, 'call.ended', callEndedData(call, usage, cost, analysis) as unknown as Record<string, unknown>, callId);
  } catch (err) {
    deps.log.error({ ...ctx, err }, 'finalizing the call failed');
  }
}

function createLlm(deps: FinalizeDeps, agent: AgentConfig, ctx: Record<string, unknown>): LlmProvider | undefined {
  try {
    return deps.createAnalysisLlm(agent);
  } catch (err) {
    deps.log.error({ ...ctx, err }, 'cannot build the analysis model');
    return undefined;
  }
}
