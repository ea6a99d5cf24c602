/**
 * Which tools an agent has, and the one way every tool is run: arguments checked against the
 * tool's schema first, a deadline, and no throw ever reaching the session.
 */
import type { BuiltinToolName, TenantConfig } from '../tenants/schema.js';
import { validateArgs } from './args.js';
import { createCallerHistoryTool } from './caller-history.js';
import { createHttpTool } from './http-tool.js';
import { createScheduleCallbackTool } from './schedule-callback.js';
import { createSearchKnowledgeTool } from './search-knowledge.js';
import { createSendDtmfTool } from './send-dtmf.js';
import { createSendSmsTool } from './send-sms.js';
import type { AgentTool, ToolCallContext, ToolResult, ToolServices } from './types.js';

/** Time a tool gets when neither the caller nor the tool names one. */
export const DEFAULT_TOOL_TIMEOUT_MS = 10_000;

const BUILTINS: Readonly<Record<BuiltinToolName, (s: ToolServices) => AgentTool>> = {
  send_sms: createSendSmsTool,
  schedule_callback: createScheduleCallbackTool,
  caller_history: createCallerHistoryTool,
  search_knowledge: createSearchKnowledgeTool,
  send_dtmf: () => createSendDtmfTool(),
};

/**
 * Exactly the tools `agentId`'s config enables (built-ins by type, HTTP tools by name), keyed by
 * tool name. end_call and transfer_call are not here: the session owns call control.
 * Throws when the tenant has no such agent (a caller bug: routing picked the agent).
 */
export function buildAgentTools(services: ToolServices, tenant: TenantConfig, agentId: string): Map<string, AgentTool> {
  const agent = tenant.agents[agentId];
  if (!agent) throw new Error(`tenant ${tenant.id} has no agent "${agentId}"`);
  const tools = new Map<string, AgentTool>();
  for (const cfg of agent.tools) {
    const tool = cfg.type === 'http' ? createHttpTool(cfg) : BUILTINS[cfg.type](services);
    tools.set(tool.spec.name, tool);
  }
  return tools;
}

/**
 * Runs `tool` with `args`: validates them against the tool's parameters, then runs it with a
 * signal that aborts when `ctx.signal` does or after the timeout (`timeoutMs`, else the tool's
 * own, else DEFAULT_TOOL_TIMEOUT_MS). Never throws and never waits past the timeout: bad
 * arguments, a throw, a timeout or an ended call all answer `{ ok: false, error }`.
 */
export async function runTool(tool: AgentTool, args: unknown, ctx: ToolCallContext, timeoutMs?: number): Promise<ToolResult> {
  const problem = validateArgs(args, tool.spec.parameters);
  if (problem !== undefined) return { ok: false, error: `invalid arguments: ${problem}` };
  if (ctx.signal.aborted) return { ok: false, error: 'the call has ended' };
  const limit = timeoutMs ?? tool.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<ToolResult>((resolve) => {
    const onCallEnd = (): void => {
      ac.abort(new Error('the call has ended'));
      resolve({ ok: false, error: 'the call has ended' });
    };
    ctx.signal.addEventListener('abort', onCallEnd, { once: true });
    ac.signal.addEventListener('abort', () => ctx.signal.removeEventListener('abort', onCallEnd), { once: true });
    timer = setTimeout(() => {
      ac.abort(new Error(`${tool.spec.name} timed out`));
      resolve({ ok: false, error: `${tool.spec.name} did not finish within ${limit} ms` });
    }, limit);
  });
  const running = (async (): Promise<ToolResult> => {
    try {
      const result = await tool.run(args as Record<string, unknown>, { ...ctx, signal: ac.signal });
      return isToolResult(result) ? result : { ok: false, error: `${tool.spec.name} gave no result` };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  })();
  try {
    return await Promise.race([running, stopped]);
  } finally {
    clearTimeout(timer);
    if (!ac.signal.aborted) ac.abort(new Error('the tool has finished'));
  }
}

function isToolResult(r: unknown): r is ToolResult {
  if (typeof r !== 'object' || r === null) return false;
  const x = r as { ok?: unknown; error?: unknown };
  return x.ok === true || (x.ok === false && typeof x.error === 'string');
}
