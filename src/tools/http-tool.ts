/**
 * Tenant HTTP tools: the model's arguments are POSTed as JSON to the tenant's URL, signed, and the
 * answer goes back to the model. Request body:
 *
 *   { "tool": "<name>", "arguments": {...}, "call": { "id", "tenantId", "agentId", "remoteNumber", "localNumber" } }
 *
 * Headers: Content-Type: application/json, X-Parley-Tool: <name>, the tool's own headers, and
 * X-Parley-Signature (see signature.ts) when the tool has a secret. The URL goes through the SSRF
 * guard (safe-http.ts) with the tenant's `network.allowPrivateAddresses`.
 */
import { HttpTimeoutError, postJson, UnsafeUrlError } from '../net/safe-http.js';
import type { HttpToolConfig } from '../tenants/schema.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';
import type { AgentTool, ToolCallContext, ToolResult } from './types.js';

export { signBody, verifySignature, SIGNATURE_HEADER } from './signature.js';

export const TOOL_NAME_HEADER = 'X-Parley-Tool';
/**
 * Longest answer handed to the model, in characters of JSON. Larger answers become a truncated
 * string: they cost tokens and time, and the session cuts tool messages at 4,000 characters anyway.
 */
export const MAX_MODEL_RESULT_CHARS = 3_000;
/** Grace beyond the tool's own timeout before the runner gives up, so safe-http reports it first. */
const RUNNER_GRACE_MS = 1_000;

/** The JSON document POSTed to an HTTP tool. */
export interface HttpToolRequest {
  readonly tool: string;
  readonly arguments: Record<string, unknown>;
  readonly call: { readonly id: string; readonly tenantId: string; readonly agentId: string; readonly remoteNumber: string; readonly localNumber: string };
}

/** The model-facing schema: the tenant's, closed to undeclared arguments unless it says otherwise. */
function modelParameters(p: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', properties: {}, ...p, additionalProperties: p['additionalProperties'] ?? false };
}

/** A response body as model input: JSON when it parses, else text; cut to MAX_MODEL_RESULT_CHARS. */
export function bodyForModel(body: string): unknown {
  const trimmed = body.trim();
  if (trimmed === '') return null;
  let value: unknown = trimmed;
  try {
    value = JSON.parse(trimmed);
  } catch {
    // not JSON: keep the text
  }
  const asJson = JSON.stringify(value);
  if (asJson.length <= MAX_MODEL_RESULT_CHARS) return value;
  const text = typeof value === 'string' ? value : asJson;
  return `${text.slice(0, MAX_MODEL_RESULT_CHARS)}… (truncated)`;
}

/** "HTTP 404" plus the endpoint's own short explanation when its JSON body carries one. */
function statusError(status: number, body: string): string {
  let detail: unknown;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const p = parsed as Record<string, unknown>;
      detail = typeof p['error'] === 'string' ? p['error'] : typeof p['message'] === 'string' ? p['message'] : undefined;
    }
  } catch {
    detail = undefined;
  }
  return typeof detail === 'string' && detail.trim() !== '' ? `HTTP ${status}: ${detail.trim().slice(0, 200)}` : `HTTP ${status}`;
}

function failure(err: unknown, config: HttpToolConfig): ToolResult {
  if (err instanceof UnsafeUrlError) return { ok: false, error: `the ${config.name} endpoint was refused: ${err.message}` };
  if (err instanceof HttpTimeoutError) return { ok: false, error: `the ${config.name} endpoint did not answer within ${config.timeoutMs} ms` };
  return { ok: false, error: `the ${config.name} request failed: ${err instanceof Error ? err.message : String(err)}` };
}

export function createHttpTool(config: HttpToolConfig): AgentTool {
  return {
    spec: { name: config.name, description: config.description, parameters: modelParameters(config.parameters) },
    timeoutMs: config.timeoutMs + RUNNER_GRACE_MS,
    async run(args: Record<string, unknown>, ctx: ToolCallContext): Promise<ToolResult> {
      const payload: HttpToolRequest = {
        tool: config.name,
        arguments: args,
        call: { id: ctx.callId, tenantId: ctx.tenant.id, agentId: ctx.agentId, remoteNumber: ctx.remoteNumber, localNumber: ctx.localNumber },
      };
      // Ours win over same-named tenant headers in any letter case: a tenant header must not forge them.
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(config.headers ?? {})) {
        if (k.toLowerCase() !== SIGNATURE_HEADER.toLowerCase() && k.toLowerCase() !== TOOL_NAME_HEADER.toLowerCase()) headers[k] = v;
      }
      headers[TOOL_NAME_HEADER] = config.name;
      // postJson serialises `payload` with JSON.stringify too, so these are the bytes sent.
      if (config.secret) headers[SIGNATURE_HEADER] = signBody(config.secret, JSON.stringify(payload), ctx.nowMs() / 1000);
      try {
        const res = await postJson(config.url, payload, {
          headers,
          timeoutMs: config.timeoutMs,
          allowPrivateAddresses: ctx.tenant.network.allowPrivateAddresses,
          signal: ctx.signal,
        });
        if (res.status < 200 || res.status > 299) return { ok: false, error: statusError(res.status, res.body) };
        return { ok: true, data: bodyForModel(res.body) };
      } catch (err) {
        return failure(err, config);
      }
    },
  };
}
