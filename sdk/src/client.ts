/**
 * The request plumbing under the generated methods (generated.ts): URL building, JSON bodies,
 * bearer auth, and typed errors. No dependencies: uses the global `fetch` (Node 20+, browsers,
 * Deno, Bun) or one you pass.
 */

export interface ParleyClientOptions {
  /** Where Parley listens, e.g. `https://parley.example.com` (no `/v1`). */
  baseUrl: string;
  /** The admin key or a tenant key (`pk_…`). */
  apiKey: string;
  /**
   * With the admin key: the tenant that tenant-scoped operations (agents, documents, calls, …)
   * act for, unless a call passes its own `tenantId`. Ignored by the server for tenant keys.
   */
  tenantId?: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Sent with every request (e.g. a tracing header). */
  headers?: Record<string, string>;
}

/** Per-call options, the last argument of every method. */
export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** An error response from the API: `{ error: { code, message, details? } }` (docs/api-errors.md). */
export class ParleyApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable error code (`not_found`, `validation_failed`, `quota_exceeded`, …); `http_error` when the body was not an API error. */
  readonly code: string;
  /** E.g. for validation_failed: `[{ path, message }]`. */
  readonly details: unknown;
  /** From the Retry-After header (seconds), when the server sent one (quota_exceeded, rate_limited, unavailable). */
  readonly retryAfterS: number | undefined;

  constructor(o: { status: number; code: string; message: string; details?: unknown; retryAfterS?: number }) {
    super(o.message);
    this.name = 'ParleyApiError';
    this.status = o.status;
    this.code = o.code;
    this.details = o.details;
    this.retryAfterS = o.retryAfterS;
  }
}

/** What a generated method asks the client to do. */
export interface OperationRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path with parameters already substituted (and encoded). */
  path: string;
  /** `tenant`-access operations get the client's default tenantId. */
  tenantScoped: boolean;
  query?: object;
  body?: unknown;
  /** How to read a successful response. */
  response: 'json' | 'text' | 'binary' | 'none';
}

/** Encodes one path parameter (a phone number's `+` included). */
export function pathParam(value: string | number): string {
  return encodeURIComponent(String(value));
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const s = Number(header);
  if (Number.isFinite(s)) return Math.max(0, s);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export class ParleyClientBase {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly tenantId: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor(o: ParleyClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.apiKey = o.apiKey;
    this.tenantId = o.tenantId;
    this.fetchImpl = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.headers = o.headers ?? {};
  }

  /** Sends one operation; resolves with the parsed success body, rejects with ParleyApiError. */
  protected async request<T>(r: OperationRequest, o: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.baseUrl}${r.path}`);
    const query: Record<string, unknown> = { ...(r.query ?? {}) };
    if (r.tenantScoped && query.tenantId === undefined && this.tenantId !== undefined) query.tenantId = this.tenantId;
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(item));
    }
    const headers: Record<string, string> = { accept: 'application/json', ...this.headers, ...o.headers, authorization: `Bearer ${this.apiKey}` };
    let body: string | undefined;
    if (r.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(r.body);
    }
    const res = await this.fetchImpl(url, { method: r.method, headers, body, signal: o.signal });
    if (!res.ok) throw await toApiError(res);
    switch (r.response) {
      case 'none':
        await res.body?.cancel();
        return undefined as T;
      case 'text':
        return (await res.text()) as T;
      case 'binary':
        return (await res.arrayBuffer()) as T;
      case 'json':
        return (res.status === 204 ? undefined : await res.json()) as T;
    }
  }
}

async function toApiError(res: Response): Promise<ParleyApiError> {
  const retryAfterS = retryAfterSeconds(res.headers.get('retry-after'));
  const text = await res.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string') {
      return new ParleyApiError({ status: res.status, code: e.code, message: typeof e.message === 'string' ? e.message : e.code, details: e.details, retryAfterS });
    }
  } catch {
    // not JSON: fall through
  }
  return new ParleyApiError({ status: res.status, code: 'http_error', message: `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, retryAfterS });
}
