import type { ChatMessage, ToolCall, ToolSpec } from '../providers/types.js';
import type { TransferTarget } from '../tenants/schema.js';
import type { AgentTool, ToolCallContext, ToolResult } from '../tools/types.js';
import type { CallRecorder } from './call-recorder.js';

/** Said when a transfer the agent promised could not be made. */
export const TRANSFER_FAILED_REPLY = "I'm sorry, I couldn't connect you right now.";

/** Actions on the live call that happen outside the media stream (carrier REST APIs). */
export interface CallControl {
  /**
   * Moves the caller to `to`; the media stream ends when the carrier acts on it. Warm: the person
   * answering first hears `briefing` (a summary of the call so far), then is connected.
   */
  transfer(to: string, o?: { mode?: 'cold' | 'warm'; briefing?: string }): Promise<void>;
}

/** Tools that act on the call itself; they run once the caller has heard the reply around them. */
export const CONTROL_TOOLS = new Set(['end_call', 'transfer_call']);

const END_CALL_TOOL: ToolSpec = {
  name: 'end_call',
  description: 'Hang up after your current sentence has been heard. Use when the caller says goodbye or the conversation is complete.',
  parameters: { type: 'object', properties: { reason: { type: 'string', description: 'Why the call ends' } }, additionalProperties: false },
};

/**
 * Tools offered to an LLM agent: end_call, transfer_call (only with tenant-configured targets, by
 * name: a model never chooses a number to dial), then the agent's enabled tools.
 */
export function llmAgentTools(transferTargets: Readonly<Record<string, TransferTarget>> = {}, extra: readonly ToolSpec[] = []): ToolSpec[] {
  const names = Object.keys(transferTargets);
  const tools = [END_CALL_TOOL];
  if (names.length > 0) {
    const described = names.map((n) => `${n}${transferTargets[n]?.description ? ` (${transferTargets[n]?.description})` : ''}`).join(', ');
    const anyWarm = names.some((n) => transferTargets[n]?.mode === 'warm');
    tools.push({
      name: 'transfer_call',
      description: `Transfer the caller to a person or department, after telling them you are doing so. Destinations: ${described}.`,
      parameters: {
        type: 'object',
        properties: {
          to: { type: 'string', enum: names, description: 'Which destination' },
          ...(anyWarm ? { summary: { type: 'string', description: 'One or two sentences briefing the person you transfer to: who is calling and what they need.' } } : {}),
        },
        required: ['to'],
        additionalProperties: false,
      },
    });
  }
  return [...tools, ...extra];
}

export interface ResolvedTransfer {
  readonly to: string;
  readonly mode: 'cold' | 'warm';
}

/**
 * Where an agent may send a call: tenant-configured targets (by name or number) and the
 * destinations written in the tenant's own flow. Anything else is refused.
 */
export class TransferPolicy {
  private readonly byName: ReadonlyMap<string, TransferTarget>;
  private readonly allowed: ReadonlySet<string>;

  constructor(targets: Readonly<Record<string, TransferTarget>> = {}, flowDestinations: readonly string[] = []) {
    this.byName = new Map(Object.entries(targets));
    this.allowed = new Set([...Object.values(targets).map((t) => t.to), ...flowDestinations]);
  }

  /** The destination for `to` and how to transfer, or undefined when it is not allowed. `requestedMode` applies to flow destinations. */
  resolve(to: string, requestedMode?: unknown): ResolvedTransfer | undefined {
    const named = this.byName.get(to);
    if (named) return { to: named.to, mode: named.mode };
    const byNumber = [...this.byName.values()].find((t) => t.to === to);
    if (byNumber) return { to: byNumber.to, mode: byNumber.mode };
    return this.allowed.has(to) ? { to, mode: requestedMode === 'warm' ? 'warm' : 'cold' } : undefined;
  }
}

/** What the tools may do to the call they run in. */
export interface ToolHost {
  readonly recorder: CallRecorder;
  readonly callControl: CallControl;
  readonly transfers: TransferPolicy;
  readonly log: { warn(obj: Record<string, unknown>, msg: string): void };
  hangup(reason: string): void;
  say(text: string): void;
  /** A briefing for a warm transfer when the model gave none (e.g. from the transcript). */
  briefing(): string;
  /** Every tool call, with its outcome (webhooks). */
  toolCalled?(e: { name: string; arguments: Record<string, unknown>; result: ToolResult }): void;
}

/**
 * Runs the call-control tool calls (end_call, transfer_call) of a reply the caller has finished
 * hearing, in order. Every call is recorded; a tool that ends the call stops the rest.
 */
export async function runControlTools(calls: readonly ToolCall[], host: ToolHost): Promise<void> {
  for (const call of calls) {
    host.recorder.event('tool.called', { name: call.name, arguments: call.arguments });
    switch (call.name) {
      case 'end_call':
        host.toolCalled?.({ name: call.name, arguments: call.arguments, result: { ok: true, data: null } });
        host.hangup('agent_hangup');
        return;
      case 'transfer_call': {
        const requested = String(call.arguments.to ?? '');
        const target = host.transfers.resolve(requested, call.arguments.mode);
        if (!target) {
          host.recorder.event('transfer.refused', { to: requested, message: 'not an allowed transfer destination' });
          host.toolCalled?.({ name: call.name, arguments: call.arguments, result: { ok: false, error: 'not an allowed transfer destination' } });
          host.say(TRANSFER_FAILED_REPLY);
          return;
        }
        const given = typeof call.arguments.summary === 'string' ? call.arguments.summary.trim() : '';
        const briefing = target.mode === 'warm' ? given || host.briefing() : undefined;
        try {
          await host.callControl.transfer(target.to, { mode: target.mode, ...(briefing ? { briefing } : {}) });
          host.recorder.event('call.transferred', { to: target.to, mode: target.mode, ...(briefing ? { briefing } : {}) });
          host.toolCalled?.({ name: call.name, arguments: call.arguments, result: { ok: true, data: { to: target.to, mode: target.mode } } });
          host.hangup('transfer');
        } catch (err) {
          host.log.warn({ callId: host.recorder.callId, err: (err as Error).message }, 'transfer failed');
          host.recorder.event('transfer.failed', { to: target.to, message: (err as Error).message });
          host.toolCalled?.({ name: call.name, arguments: call.arguments, result: { ok: false, error: (err as Error).message } });
          host.say(TRANSFER_FAILED_REPLY);
        }
        return;
      }
      default:
        host.recorder.event('tool.unknown', { name: call.name });
    }
  }
}

/** Longest tool answer given back to the model; bigger answers are cut (they cost tokens and time). */
const MAX_TOOL_RESULT_CHARS = 4_000;

/**
 * Runs data tools (everything but call control) one after another and returns the tool messages
 * for the model. Never throws: an unknown tool or a failing one answers `{ ok: false, error }`.
 */
export async function runDataTools(
  calls: readonly ToolCall[],
  tools: ReadonlyMap<string, AgentTool>,
  ctx: ToolCallContext,
  host: Pick<ToolHost, 'recorder' | 'toolCalled'>,
  run: (tool: AgentTool, args: Record<string, unknown>, ctx: ToolCallContext) => Promise<ToolResult>,
): Promise<ChatMessage[]> {
  const messages: ChatMessage[] = [];
  for (const call of calls) {
    const startedAt = Date.now();
    const tool = tools.get(call.name);
    let result: ToolResult;
    if (!tool) result = { ok: false, error: `unknown tool ${call.name}` };
    else {
      try {
        result = await run(tool, call.arguments, ctx);
      } catch (err) {
        result = { ok: false, error: (err as Error).message };
      }
    }
    host.recorder.event('tool.called', { name: call.name, arguments: call.arguments, ok: result.ok, durationMs: Date.now() - startedAt, ...(result.ok ? {} : { error: result.error }) });
    host.toolCalled?.({ name: call.name, arguments: call.arguments, result });
    let content = JSON.stringify(result.ok ? result.data ?? null : { error: result.error });
    if (content.length > MAX_TOOL_RESULT_CHARS) content = `${content.slice(0, MAX_TOOL_RESULT_CHARS)}… (truncated)`;
    messages.push({ role: 'tool', toolCallId: call.id, content });
  }
  return messages;
}
