/**
 * Wraps a call's LlmProvider so every request is metered on the call's CallUsageMeter: the token
 * usage the provider reports, or else the characters for an estimate. Every delta, `usage`
 * included, passes through unchanged and in order — consumers still ignore `usage` deltas.
 */
import type { CallOptions, ChatRequest, LlmDelta, LlmProvider } from '../providers/types.js';
import type { CallUsageMeter } from './usage-meter.js';

/** Characters of what the model reads: every message, tool calls and results, and the tool specs. */
export function promptCharsOf(req: ChatRequest): number {
  let n = 0;
  for (const m of req.messages) {
    n += m.content.length;
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) n += c.name.length + JSON.stringify(c.arguments).length;
  }
  for (const t of req.tools ?? []) n += t.name.length + t.description.length + JSON.stringify(t.parameters).length;
  return n;
}

export function meterLlm(llm: LlmProvider, meter: CallUsageMeter): LlmProvider {
  return {
    name: llm.name,
    prepare: () => llm.prepare?.(),
    async *complete(req: ChatRequest, o: CallOptions): AsyncIterable<LlmDelta> {
      const m = meter.llmRequest(promptCharsOf(req));
      for await (const d of llm.complete(req, o)) {
        if (d.kind === 'text') m.addCompletionChars(d.text.length);
        else if (d.kind === 'tool_call') m.addCompletionChars(d.call.name.length + JSON.stringify(d.call.arguments).length);
        else m.addUsage(d);
        yield d;
      }
    },
  };
}
