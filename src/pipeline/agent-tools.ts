import type { ToolCall, ToolSpec } from '../providers/types.js';
import type { CallRecorder } from './call-recorder.js';

/** Said when a transfer the agent promised could not be made. */
export const TRANSFER_FAILED_REPLY = "I'm sorry, I couldn't connect you right now.";

/** Actions on the live call that happen outside the media stream (carrier REST APIs). */
export interface CallControl {
  /** Moves the caller to `to`; the media stream ends when the carrier acts on it. */
  transfer(to: string): Promise<void>;
}

/**
 * Tools offered to LLM agents. transfer_call is not offered yet: a model must not choose where a
 * call goes without a tenant-configured list of allowed destinations (flows name theirs).
 */
export const LLM_AGENT_TOOLS: readonly ToolSpec[] = [
  {
    name: 'end_call',
    description: 'Hang up after your current sentence has been heard. Use when the caller says goodbye or the conversation is complete.',
    parameters: { type: 'object', properties: { reason: { type: 'string', description: 'Why the call ends' } }, additionalProperties: false },
  },
];

/** What the tools may do to the call they run in. */
export interface ToolHost {
  readonly recorder: CallRecorder;
  readonly callControl: CallControl;
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
        const to = String(call.arguments.to ?? '');
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
