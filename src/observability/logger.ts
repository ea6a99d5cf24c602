/**
 * Structured logging with secrets redacted. Redaction happens in three places:
 * known secret keys (pino `redact`), URLs carrying tokens in query strings (serializers for
 * `url` / `req`), and token query values inside message strings (logMethod hook).
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** What replaces a redacted value. */
export const REDACTED = '[REDACTED]';

const SECRET_KEYS = [
  'authToken',
  'auth_token',
  'apiKey',
  'api_key',
  'adminKey',
  'password',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'authorization',
  'Authorization',
];

/**
 * Redacted paths: each secret key at the top level and up to three levels deep
 * (e.g. `tenant.providers.llm.apiKey`), plus request headers carrying credentials.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/** Query parameters whose values are credentials (Twilio stream tokens, provider keys, ...). */
const SECRET_QUERY = /([?&](?:token|access_token|auth_token|api_key|apikey|key|signature|sig|password)=)[^&#\s"']*/gi;

/** Replaces the values of credential query parameters in any URL(s) inside `text`. */
export function redactUrlTokens(text: string): string {
  return text.replace(SECRET_QUERY, `$1${REDACTED}`);
}

interface RequestLike {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remoteAddress?: string; remotePort?: number };
}

/** Request serializer (overrides Fastify's): keeps routing facts, drops headers, redacts URL tokens. */
function serializeReq(req: RequestLike): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactUrlTokens(req.url) : req.url,
    host: req.host ?? req.headers?.host,
    remoteAddress: req.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

export interface CreateLoggerOptions {
  /** pino level; default 'info'. */
  level?: string;
  /** Human-readable output via pino-pretty when it is installed; JSON otherwise. */
  pretty?: boolean;
  /** Destination stream (tests); default stdout. Ignored when `pretty` is in effect. */
  destination?: DestinationStream;
}

/** Creates the process logger. */
export function createLogger(o: CreateLoggerOptions = {}): Logger {
  const options: LoggerOptions = {
    level: o.level ?? 'info',
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    serializers: {
      req: serializeReq,
      url: (u: unknown) => (typeof u === 'string' ? redactUrlTokens(u) : u),
      err: pino.stdSerializers.err,
    },
    hooks: {
      // Message strings are not covered by `redact`, so scrub token query values from them too.
      logMethod(args, method) {
        const scrubbed = args.map((a: unknown) => (typeof a === 'string' ? redactUrlTokens(a) : a));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (o.pretty === true && o.destination === undefined && prettyAvailable()) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return o.destination === undefined ? pino(options) : pino(options, o.destination);
}

function prettyAvailable(): boolean {
  try {
    import.meta.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
