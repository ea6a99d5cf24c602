/**
 * The agent tool contract. A tool is offered to LLM agents as a function (spec) and can be run by
 * flow actions by name. Tools run inside one call (ToolCallContext) and answer with a JSON-able
 * result that goes back to the model as the tool message. Tools never throw for expected failures
 * (bad arguments, a refused URL, an upstream error): they answer `{ ok: false, error }` so the model
 * can tell the caller; a throw is treated the same way by the runner.
 */
import type { ToolSpec } from '../providers/types.js';
import type { Store } from '../store/store.js';
import type { AgentConfig, TenantConfig } from '../tenants/schema.js';

export type ToolResult = { readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly error: string };

/** Effects on the live call a tool may ask for; the voice session carries them out. */
export interface CallActions {
  /** Plays DTMF tones to the far end (in-band audio on the media stream). */
  sendDtmf(digits: string): Promise<void>;
}

export interface ToolCallContext {
  readonly tenant: TenantConfig;
  readonly agentId: string;
  readonly agent: AgentConfig;
  readonly callId: string;
  /** The caller (inbound) or the called party (outbound): the person the agent talks with. */
  readonly remoteNumber: string;
  /** The tenant's number on this call. */
  readonly localNumber: string;
  /** Aborted when the call ends or the tool's time is up. */
  readonly signal: AbortSignal;
  readonly call: CallActions;
  readonly nowMs: () => number;
}

export interface AgentTool {
  readonly spec: ToolSpec;
  /** How long `runTool` lets this tool run by default (HTTP tools: their configured timeout). */
  readonly timeoutMs?: number;
  run(args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult>;
}

/** What tools need from the server, shared by every call. */
export interface ToolServices {
  readonly store: Store;
  /** Twilio REST base URL (a loopback fake in tests). */
  readonly twilioApiBaseUrl: string;
}
