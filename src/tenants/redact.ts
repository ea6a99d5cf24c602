/**
 * Secret redaction for tenant configuration shown through the API. A response may echo the
 * configuration (so a dashboard can show it) but never a credential: Twilio auth tokens, webhook
 * and HTTP-tool signing secrets, HTTP-tool header values, and provider credentials (any option
 * whose name looks like a key, token, secret or password, plus provider `headers`).
 * Redaction works on copies; the configuration used for calls is never touched.
 */
import type { AgentConfig, TenantConfig } from './schema.js';

/** What a redacted value starts with. */
export const REDACTED = '••••';

/** Secrets at least this long keep their last 4 characters (to tell keys apart); shorter ones show none. */
const SHOW_TAIL_MIN_LENGTH = 16;

/** Option names holding credentials, in any provider (apiKey, authToken, subscriptionKey, password, …). */
const SECRET_OPTION_NAME = /(key|token|secret|password|passwd|credential|authorization|cookie)/i;

/** "••••" + the last 4 characters of a long secret; "••••" alone for a short one. */
export function maskSecret(value: string): string {
  return value.length >= SHOW_TAIL_MIN_LENGTH ? `${REDACTED}${value.slice(-4)}` : REDACTED;
}

/** A URL with the password of its userinfo (https://user:pass@host) masked; other strings unchanged. */
function maskUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+:[^/@\s]*@/i.test(value)) return value;
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]+:)[^/@\s]*@/i, `$1${REDACTED}@`);
}

function maskAllValues(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, maskSecret(v)]));
}

/** Deep copy of provider options with credential-like values masked (nested objects included). */
function redactOptions(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return SECRET_OPTION_NAME.test(key) ? maskSecret(value) : maskUrlPassword(value);
  if (Array.isArray(value)) return value.map((v) => redactOptions(v, key));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (key.toLowerCase() === 'headers') {
      return Object.fromEntries(entries.map(([k, v]) => [k, typeof v === 'string' ? maskSecret(v) : redactOptions(v, k)]));
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, redactOptions(v, k)]));
  }
  return value;
}

/** A copy of an agent with provider credentials and HTTP-tool secrets and header values masked. */
export function redactAgent(agent: AgentConfig): AgentConfig {
  const copy = structuredClone(agent);
  for (const kind of ['stt', 'llm', 'tts'] as const) {
    copy[kind] = agent[kind].map((spec) => redactOptions(spec) as typeof spec);
  }
  copy.tools = agent.tools.map((tool) => {
    if (tool.type !== 'http') return { ...tool };
    const t = { ...tool, url: maskUrlPassword(tool.url) };
    if (tool.secret !== undefined) t.secret = maskSecret(tool.secret);
    if (tool.headers !== undefined) t.headers = maskAllValues(tool.headers);
    return t;
  });
  return copy;
}

/** A copy of a tenant safe to return through the API (see the module comment for what is masked). */
export function redactTenant(tenant: TenantConfig): TenantConfig {
  const copy = structuredClone(tenant);
  copy.agents = Object.fromEntries(Object.entries(tenant.agents).map(([id, a]) => [id, redactAgent(a)]));
  if (tenant.twilio?.authToken !== undefined) copy.twilio = { ...tenant.twilio, authToken: maskSecret(tenant.twilio.authToken) };
  copy.webhooks = tenant.webhooks.map((w) => ({ ...w, url: maskUrlPassword(w.url), secret: maskSecret(w.secret) }));
  return copy;
}
