import { randomBytes } from 'node:crypto';

/** Everything Parley reads from the environment. The only file that touches process.env. */
export interface ParleyConfig {
  /** HTTP port for the API, webhooks and media streams. Env PORT. */
  port: number;
  /** Interface to bind. Env PARLEY_HOST. */
  host: string;
  /** Public base URL Twilio reaches this server at (https://...). Env PARLEY_PUBLIC_URL. */
  publicUrl?: string;
  /** Directory of tenant files. Env PARLEY_TENANTS_DIR. */
  tenantsDir: string;
  /** SQLite database and recordings. Env PARLEY_DATA_DIR. */
  dataDir: string;
  /** Bearer key with access to every tenant. Env PARLEY_ADMIN_KEY. Unset = /v1 is closed. */
  adminKey?: string;
  /** Secret that signs media-stream tokens. Env PARLEY_STREAM_SECRET; random per process when unset. */
  streamTokenSecret: string;
  /** Twilio REST base URL (tests point this at a loopback fake). Env PARLEY_TWILIO_API_URL. */
  twilioApiBaseUrl: string;
  /** Env PARLEY_LOG_LEVEL: trace | debug | info | warn | error. */
  logLevel: string;
  /**
   * Most pocketsphinx decoders (= concurrent calls using it); each holds ~70 MB. Env PARLEY_STT_MAX_DECODERS.
   * A call beyond the cap gets a retryable STT error.
   */
  sttMaxDecoders: number;
  /** Decoders started before the first call (~330 ms each, blocking their worker). Env PARLEY_STT_WARM_DECODERS. */
  sttWarmDecoders: number;
  /** Worker threads running pocketsphinx. Env PARLEY_STT_WORKERS; default cores − 1 (at least 1). */
  sttWorkers?: number;
  /**
   * How far V8 lets the old generation grow past what survived the last full collection before the
   * next one, in percent (300 = to four times). Env PARLEY_HEAP_GROWTH_PERCENT; 0 = V8's own choice.
   * Process-wide; see docs/performance.md ("Full collections").
   */
  heapGrowthPercent: number;
}

export const configDefaults = {
  port: 3000,
  host: '0.0.0.0',
  tenantsDir: './tenants',
  dataDir: './data',
  twilioApiBaseUrl: 'https://api.twilio.com',
  logLevel: 'info',
  sttMaxDecoders: 32,
  sttWarmDecoders: 1,
  heapGrowthPercent: 300,
} as const satisfies Partial<ParleyConfig>;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return intFromEnv(env, name, fallback, 1, Number.MAX_SAFE_INTEGER, 'a positive integer');
}

/** A whole number from min to max; anything else (trailing text, fractions) is an error naming the variable. */
function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number, expected: string): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: "${raw}" must be ${expected}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ParleyConfig> = {}): ParleyConfig {
  const port = env.PORT !== undefined ? Number.parseInt(env.PORT, 10) : configDefaults.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT: "${env.PORT}" is not a port number`);
  const publicUrl = env.PARLEY_PUBLIC_URL?.replace(/\/+$/, '');
  if (publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(publicUrl)) {
    throw new Error(`PARLEY_PUBLIC_URL: "${publicUrl}" must be an http(s) URL like https://parley.example.com`);
  }
  return {
    port,
    host: env.PARLEY_HOST ?? configDefaults.host,
    publicUrl,
    tenantsDir: env.PARLEY_TENANTS_DIR ?? configDefaults.tenantsDir,
    dataDir: env.PARLEY_DATA_DIR ?? configDefaults.dataDir,
    adminKey: env.PARLEY_ADMIN_KEY || undefined,
    streamTokenSecret: env.PARLEY_STREAM_SECRET || randomBytes(32).toString('hex'),
    twilioApiBaseUrl: env.PARLEY_TWILIO_API_URL ?? configDefaults.twilioApiBaseUrl,
    logLevel: env.PARLEY_LOG_LEVEL ?? configDefaults.logLevel,
    sttMaxDecoders: positiveInt(env, 'PARLEY_STT_MAX_DECODERS', configDefaults.sttMaxDecoders),
    sttWarmDecoders: positiveInt(env, 'PARLEY_STT_WARM_DECODERS', configDefaults.sttWarmDecoders),
    sttWorkers: env.PARLEY_STT_WORKERS ? positiveInt(env, 'PARLEY_STT_WORKERS', 1) : undefined,
    heapGrowthPercent: intFromEnv(env, 'PARLEY_HEAP_GROWTH_PERCENT', configDefaults.heapGrowthPercent, 0, 1000, 'an integer from 0 to 1000'),
    ...overrides,
  };
}

/** The environment, for tenant-file `${VAR}` expansion; read here so no other file touches process.env. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
