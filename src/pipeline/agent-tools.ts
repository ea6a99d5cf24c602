import type { ToolCall, ToolSpec } from '../providers/types.js';
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

const END_CALL_TOOL: ToolSpec = {
  name: 'end_call',
  description: 'Hang up after your current sentence has been heard. Use when the caller says goodbye or the conversation is complete.',
  parameters: { type: 'object', properties: { reason: { type: 'string', description: 'Why the call ends' } }, additionalProperties: false },
};

/**
 * Tools offered to an LLM agent. transfer_call is offered only with tenant-configured targets, by
 * name: a model never chooses a number to dial.
 */
export function llmAgentTools(transferTargets: Readonly<Record<string, string>> = {}): ToolSpec[] {
  const names = Object.keys(transferTargets);
  if (names.length === 0) return [END_CALL_TOOL];
  return [
    END_CALL_TOOL,
    {
      name: 'transfer_call',
      description: 'Transfer the caller to a person or department, after telling them you are doing so.',
      parameters: {
        type: 'object',
        properties: { to: { type: 'string', enum: names, description: 'Which destination' } },
        required: ['to'],
        additionalProperties: false,
      },
    },
  ];
}

/**
 * Where an agent may send a call: tenant-configured targets (by name or number) and the
 * destinations written in the tenant's own flow. Anything else is refused.
 */
export class TransferPolicy {
  private readonly byName: ReadonlyMap<string, string>;
  private readonly allowed: ReadonlySet<string>;

  constructor(targets: Readonly<Record<string, string>> = {}, flowDestinations: readonly string[] = []) {
    this.byName = new Map(Object.entries(targets));
    this.allowed = new Set([...Object.values(targets), ...flowDestinations]);
  }

  /** The number or SIP URI to dial for `to`, or undefined when it is not allowed. */
  resolve(to: string): string | undefined {
    return this.byName.get(to) ?? (this.allowed.has(to) ? to : undefined);
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
}

/**
 * Runs the tool calls of a reply the caller has finished hearing, in order. Every call is recorded;
 * a tool that ends the call stops the rest. Unknown tools are recorded and skipped.
 */
export async function runAgentTools(calls: readonly ToolCall[], host: ToolHost): Promise<void> {
  for (const call of calls) {
    host.recorder.event('tool.called', { name: call.name, arguments: call.arguments });
    switch (call.name) {
      case 'end_call':
        host.hangup('agent_hangup');
        return;
      case 'transfer_call': {
        const requested = String(call.arguments.to ?? '');
        const to = host.transfers.resolve(requested);
        if (!to) {
          host.recorder.event('transfer.refused', { to: requested, message: 'not an allowed transfer destination' });
          host.say(TRANSFER_FAILED_REPLY);
          return;
        }
        try {
          await host.callControl.transfer(to);
          host.recorder.event('call.transferred', { to });
          host.hangup('transfer');
        } catch (err) {
          host.log.warn({ callId: host.recorder.callId, err: (err as Error).message }, 'transfer failed');
          host.recorder.event('transfer.failed', { to, message: (err as Error).message });
          host.say(TRANSFER_FAILED_REPLY);
        }
        return;
      }
      default:
        host.recorder.event('tool.unknown', { name: call.name });
    }
  }
}
