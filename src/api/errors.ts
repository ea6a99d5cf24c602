/**
 * The API error catalog and the handlers that turn every failure into
 * `{ error: { code, message, details? } }`. Codes are stable (clients branch on them);
 * messages may be reworded. Every code must be documented in docs/api-errors.md (a test checks).
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { ZodError } from 'zod';

export const errorCatalog = {
  unauthorized: { status: 401, message: 'Missing or invalid API key', retryable: false },
  auth_not_configured: {
    status: 401,
    message: 'API authentication is not configured: PARLEY_ADMIN_KEY is not set',
    retryable: false,
  },
  forbidden: { status: 403, message: 'This API key may not access this resource', retryable: false },
  not_found: { status: 404, message: 'Resource not found', retryable: false },
  route_not_found: { status: 404, message: 'No such route', retryable: false },
  validation_failed: { status: 400, message: 'Request validation failed', retryable: false },
  malformed_request: { status: 400, message: 'Malformed request', retryable: false },
  payload_too_large: { status: 413, message: 'Request body too large', retryable: false },
  unsupported_media_type: { status: 415, message: 'Unsupported content type', retryable: false },
  conflict: { status: 409, message: 'The resource already exists or is in a conflicting state', retryable: false },
  read_only: { status: 409, message: 'This resource is defined in a file on the server and is read-only through the API', retryable: false },
  not_configured: { status: 422, message: 'The tenant is missing configuration this request needs', retryable: false },
  quota_exceeded: { status: 429, message: 'A tenant quota is exhausted', retryable: true },
  rate_limited: { status: 429, message: 'Too many requests', retryable: true },
  upstream_failed: { status: 502, message: 'A carrier or provider request failed', retryable: true },
  internal: { status: 500, message: 'Internal server error', retryable: false },
  unavailable: { status: 503, message: 'Service temporarily unavailable', retryable: true },
} as const satisfies Record<string, { status: number; message: string; retryable: boolean }>;

export type ErrorCode = keyof typeof errorCatalog;

/** JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** An error with a catalog code; thrown from routes and hooks, rendered by the error handler. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details?: unknown;
  /** Extra response headers, e.g. Retry-After on quota_exceeded. */
  readonly headers?: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, o: { message?: string; details?: unknown; cause?: unknown; headers?: Record<string, string> } = {}) {
    super(o.message ?? errorCatalog[code].message, { cause: o.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.retryable = errorCatalog[code].retryable;
    if (o.details !== undefined) this.details = o.details;
    if (o.headers !== undefined) this.headers = o.headers;
  }
}

/** Builds the response body for an ApiError. */
export function errorBody(e: ApiError): ErrorBody {
  return { error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } };
}

/** Sends an ApiError as the reply (for hooks that answer directly). */
export function sendApiError(reply: FastifyReply, e: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(e.headers ?? {})) reply.header(k, v);
  return reply.code(e.status).type('application/json; charset=utf-8').send(errorBody(e));
}

/** Issues as `details`: where (`path`) and what (`message`), never the offending input itself. */
function zodDetails(err: ZodError): Array<{ path: string; message: string }> {
  return err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Fastify framework error codes with a dedicated catalog entry. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
};

/** Maps any thrown value to an ApiError. Unknown errors become `internal` with a generic message. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) return new ApiError('validation_failed', { details: zodDetails(err), cause: err });
  const fe = err as Partial<FastifyError> | null;
  if (fe !== null && typeof fe === 'object') {
    if (Array.isArray(fe.validation)) {
      const details = fe.validation.map((v) => ({ path: v.instancePath, message: v.message ?? 'invalid' }));
      return new ApiError('validation_failed', { details, cause: err });
    }
    const mapped = typeof fe.code === 'string' ? FASTIFY_CODES[fe.code] : undefined;
    if (mapped !== undefined) return new ApiError(mapped, { cause: err });
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status === 401) return new ApiError('unauthorized', { cause: err });
    if (status === 404) return new ApiError('not_found', { cause: err });
    if (status === 413) return new ApiError('payload_too_large', { cause: err });
    if (status === 415) return new ApiError('unsupported_media_type', { cause: err });
    if (status === 429) return new ApiError('rate_limited', { cause: err });
    if (status === 503) return new ApiError('unavailable', { cause: err });
    // Other client errors keep a generic message: framework messages can echo input.
    if (status >= 400 && status < 500) return new ApiError('malformed_request', { cause: err });
  }
  return new ApiError('internal', { cause: err });
}

/**
 * Installs the error and not-found handlers on `app` (root level, so they also cover routes
 * registered later by other modules). 5xx errors are logged with their cause; bodies never
 * carry stack traces.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: apiErr.code, status: apiErr.status }, 'request rejected');
    return sendApiError(reply, apiErr);
  });
  app.setNotFoundHandler((request, reply) =>
    sendApiError(reply, new ApiError('route_not_found', { message: `No route ${request.method} ${request.url.split('?')[0]}` })),
  );
}
