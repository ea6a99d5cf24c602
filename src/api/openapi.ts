/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the RouteSpecs recorded by
 * defineRoute (route.ts): zod schemas become JSON Schema (`z.toJSONSchema`; request parts as
 * `input`, responses as `output`). Schemas named with `.meta({ id })` become shared components
 * (`Agent`; an input form that differs from the output gets an `Input` suffix). Endpoints outside
 * /v1 (health, metrics, Twilio) are documented by hand below. The SDK is generated from this
 * document (scripts/generate-sdk.ts), so what is here is what clients can call.
 */
import { z } from 'zod';
import { errorCatalog } from './errors.js';
import { API_PREFIX, type RouteSpec } from './route.js';

/** A JSON Schema object (as emitted by z.toJSONSchema). */
export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  security: Array<Record<string, string[]>>;
  tags: Array<{ name: string }>;
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
}

/** Content types a request body may be sent as, each with its schema (default: JSON, the body schema). */
const bodyContent = new WeakMap<z.ZodType, Readonly<Record<string, z.ZodType>>>();

/**
 * Declares the content types a route accepts for `schema` (its `body`), e.g. JSON or plain text.
 * Returns `schema`, so it wraps the body schema where the route is defined.
 */
export function describeBodyContent<T extends z.ZodType>(schema: T, byContentType: Readonly<Record<string, z.ZodType>>): T {
  bodyContent.set(schema, byContentType);
  return schema;
}

type Io = 'input' | 'output';

/**
 * Converts zod schemas and gathers their named definitions. Refs are rewritten to
 * `#/components/schemas/<name>` once every schema is known (`finish`), because the name of an
 * input definition depends on whether its output form is the same.
 */
class SchemaCollector {
  private readonly defs = new Map<string, JsonSchema>();
  private readonly converted: Array<{ schema: JsonSchema; io: Io }> = [];

  convert(schema: z.ZodType, io: Io): JsonSchema {
    const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
    delete js.$schema;
    const defs = (js.$defs ?? {}) as Record<string, JsonSchema>;
    delete js.$defs;
    for (const [id, def] of Object.entries(defs)) {
      if (!this.defs.has(`${io}:${id}`)) {
        this.defs.set(`${io}:${id}`, def);
        this.converted.push({ schema: def, io });
      }
    }
    this.converted.push({ schema: js, io });
    return js;
  }

  /** A converted schema's named definition (for inspecting a `$ref` root before `finish`). */
  resolve(js: JsonSchema, io: Io): JsonSchema {
    const ref = typeof js.$ref === 'string' ? /^#\/\$defs\/(.+)$/.exec(js.$ref)?.[1] : undefined;
    return (ref !== undefined ? this.defs.get(`${io}:${ref}`) : undefined) ?? js;
  }

  /** Rewrites every ref in place and returns the components. */
  finish(): Record<string, JsonSchema> {
    // Names first: comparing forms after some refs were rewritten would compare mixed states.
    const names = new Map<string, string>();
    for (const key of this.defs.keys()) {
      const [io, id] = splitKey(key);
      const out = this.defs.get(`output:${id}`);
      const same = out === undefined || sameShape(out, this.defs.get(`input:${id}`));
      names.set(key, io === 'output' || same ? id : `${id}Input`);
    }
    const name = (id: string, io: Io): string => names.get(`${io}:${id}`) ?? id;
    const rewrite = (node: unknown, io: Io): void => {
      if (Array.isArray(node)) node.forEach((n) => rewrite(n, io));
      else if (node !== null && typeof node === 'object') {
        const o = node as JsonSchema;
        const ref = typeof o.$ref === 'string' ? /^#\/\$defs\/(.+)$/.exec(o.$ref)?.[1] : undefined;
        if (ref !== undefined) o.$ref = `#/components/schemas/${name(ref, io)}`;
        for (const v of Object.values(o)) rewrite(v, io);
      }
    };
    for (const c of this.converted) rewrite(c.schema, c.io);
    const components: Record<string, JsonSchema> = {};
    // Output forms first: a shared name holds the output form.
    const keys = [...this.defs.keys()].sort((a, b) => Number(b.startsWith('output:')) - Number(a.startsWith('output:')));
    for (const key of keys) {
      const [io, id] = splitKey(key);
      components[name(id, io)] ??= this.defs.get(key) as JsonSchema;
    }
    return components;
  }
}

/**
 * Whether the output form of a definition also describes its input: equal once the output's
 * `additionalProperties: false` is set aside (a z.object accepts extra keys and drops them, so
 * a client sending the output form sends a valid input). The component then holds the output form.
 */
function sameShape(output: unknown, input: unknown): boolean {
  const normalize = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(normalize);
    if (node === null || typeof node !== 'object') return node;
    const o = { ...(node as JsonSchema) };
    if (o.additionalProperties === false) delete o.additionalProperties;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, normalize(v)]));
  };
  return JSON.stringify(normalize(output)) === JSON.stringify(normalize(input));
}

function splitKey(key: string): [Io, string] {
  const i = key.indexOf(':');
  return [key.slice(0, i) as Io, key.slice(i + 1)];
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Every error response. Branch on `code` (stable); `message` is for humans. See docs/api-errors.md.',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', enum: Object.keys(errorCatalog) },
        message: { type: 'string' },
        details: { description: 'Present for some codes, e.g. validation_failed: a list of { path, message }.' },
      },
      required: ['code', 'message'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
};

const errorResponse = (description: string): JsonSchema => ({
  description,
  headers: { 'Retry-After': { description: 'Seconds to wait before retrying (quota_exceeded, rate_limited, unavailable).', schema: { type: 'integer' } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } },
});

const TENANT_ID_PARAMETER: JsonSchema = {
  name: 'tenantId',
  in: 'query',
  required: false,
  description: 'Admin key only, and then required: the tenant to act for. A tenant key always acts for its own tenant.',
  schema: { type: 'string' },
};

/** `/calls/:id` → `/v1/calls/{id}`. */
export function openApiPath(fastifyPath: string): string {
  return `${API_PREFIX}${fastifyPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
}

function parametersOf(spec: RouteSpec, collector: SchemaCollector): JsonSchema[] {
  const out: JsonSchema[] = [];
  const add = (schema: z.ZodType | undefined, where: 'path' | 'query'): void => {
    if (schema === undefined) return;
    const js = collector.resolve(collector.convert(schema, 'input'), 'input');
    const props = (js.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((js.required ?? []) as string[]);
    for (const [name, prop] of Object.entries(props)) {
      const { description, ...propSchema } = prop;
      out.push({ name, in: where, required: where === 'path' || required.has(name), ...(typeof description === 'string' ? { description } : {}), schema: propSchema });
    }
  };
  add(spec.params, 'path');
  for (const m of spec.path.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (!out.some((p) => p.in === 'path' && p.name === m[1])) out.push({ name: m[1], in: 'path', required: true, schema: { type: 'string' } });
  }
  add(spec.query, 'query');
  if (spec.access === 'tenant' && !out.some((p) => p.in === 'query' && p.name === 'tenantId')) out.push(TENANT_ID_PARAMETER);
  return out;
}

function operationOf(spec: RouteSpec, collector: SchemaCollector): JsonSchema {
  const op: JsonSchema = {
    operationId: spec.operationId,
    summary: spec.summary,
    description: [spec.description, ACCESS_NOTE[spec.access]].filter(Boolean).join('\n\n'),
    tags: [...spec.tags],
    'x-parley-access': spec.access,
  };
  const parameters = parametersOf(spec, collector);
  if (parameters.length > 0) op.parameters = parameters;
  if (spec.body !== undefined) {
    const byType = bodyContent.get(spec.body) ?? { 'application/json': spec.body };
    const content: JsonSchema = {};
    for (const [type, schema] of Object.entries(byType)) content[type] = { schema: collector.convert(schema, 'input') };
    op.requestBody = { required: true, content };
  }
  const responses: JsonSchema = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    if (r.schema !== undefined) responses[status] = { description: r.description, content: { 'application/json': { schema: collector.convert(r.schema, 'output') } } };
    else if (r.contentType !== undefined) responses[status] = { description: r.description, content: { [r.contentType]: { schema: { type: 'string', contentMediaType: r.contentType } } } };
    else if (Number(status) >= 400) responses[status] = errorResponse(r.description);
    else responses[status] = { description: r.description };
  }
  responses['401'] ??= errorResponse('`unauthorized`: missing or invalid API key');
  responses['4XX'] ??= errorResponse('Client error (see `error.code`)');
  responses['5XX'] ??= errorResponse('Server error (see `error.code`)');
  op.responses = responses;
  return op;
}

const ACCESS_NOTE: Record<RouteSpec['access'], string> = {
  admin: 'Access: admin key.',
  tenant: 'Access: a tenant key (its own tenant), or the admin key with `?tenantId=`.',
  any: 'Access: admin key or tenant key.',
};

export interface OpenApiOptions {
  /** info.version: the version of this document's API surface. */
  version?: string;
}

/** Builds the document for `routes` (the /v1 routes, from definedRoutes) plus the hand-documented endpoints. */
export function buildOpenApiDocument(routes: readonly RouteSpec[], o: OpenApiOptions = {}): OpenApiDocument {
  const collector = new SchemaCollector();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of routes) {
    const path = openApiPath(spec.path);
    (paths[path] ??= {})[spec.method.toLowerCase()] = operationOf(spec, collector);
  }
  Object.assign(paths, UNVERSIONED_PATHS);
  const schemas = { ...collector.finish(), ErrorBody: ERROR_SCHEMA };
  const tags = [...new Set([...routes.flatMap((r) => r.tags), 'Platform', 'Twilio'])].map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Parley API',
      version: o.version ?? '1',
      description:
        'Self-hosted, multi-tenant voice AI. Authenticate /v1 with `Authorization: Bearer <key>`: the admin key (PARLEY_ADMIN_KEY) or a tenant key (`pk_…`). Errors are `{ error: { code, message, details? } }` (docs/api-errors.md).',
    },
    security: [{ bearer: [] }],
    tags,
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The admin key, or a tenant key (`pk_…`) created with POST /v1/tenants/{id}/api-keys.' } },
    },
  };
}

const twilioForm = (fields: string): JsonSchema => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: { type: 'object', description: `Twilio's form parameters (${fields}).`, additionalProperties: { type: 'string' } } } },
});

/** Endpoints outside /v1, not defined through defineRoute; kept in step with their modules by hand. */
const UNVERSIONED_PATHS: Record<string, Record<string, JsonSchema>> = {
  '/health': {
    get: {
      operationId: 'health',
      summary: 'Liveness',
      tags: ['Platform'],
      security: [],
      responses: {
        200: {
          description: 'The process is up',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { status: { const: 'ok' }, uptimeS: { type: 'integer' }, activeCalls: { type: 'number' } },
                required: ['status', 'uptimeS'],
              },
            },
          },
        },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      description: 'Prometheus text exposition. No auth unless the server requires the admin key for metrics; keep it off the public internet.',
      tags: ['Platform'],
      security: [],
      responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
  '/docs/json': {
    get: { operationId: 'openApiDocument', summary: 'This OpenAPI document', tags: ['Platform'], security: [], responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
  },
  '/docs': {
    get: { operationId: 'apiReference', summary: 'API reference (HTML)', tags: ['Platform'], security: [], responses: { 200: { description: 'A page rendering /docs/json', content: { 'text/html': { schema: { type: 'string' } } } } } },
  },
  '/twilio/voice': {
    post: {
      operationId: 'twilioVoiceWebhook',
      summary: "Twilio's incoming-call webhook",
      description:
        "Set as the number's voice webhook in Twilio. Routes the call by `To` to a tenant and agent and answers with TwiML connecting a media stream to /twilio/stream. Checks X-Twilio-Signature when the tenant has `twilio.authToken`. An unknown number hears a not-in-service message.",
      tags: ['Twilio'],
      security: [],
      requestBody: twilioForm('CallSid, From, To, …'),
      responses: { 200: { description: 'TwiML', content: { 'text/xml': { schema: { type: 'string' } } } }, 403: { description: 'Invalid X-Twilio-Signature' } },
    },
  },
  '/twilio/outbound/{callId}': {
    post: {
      operationId: 'twilioOutboundAnswered',
      summary: 'Outbound call answered (Twilio)',
      description: 'Twilio fetches this when an outbound call placed by Parley is answered; answers with TwiML connecting the media stream. Signed like the voice webhook.',
      tags: ['Twilio'],
      security: [],
      parameters: [{ name: 'callId', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: twilioForm('CallSid, CallStatus, AnsweredBy, …'),
      responses: { 200: { description: 'TwiML', content: { 'text/xml': { schema: { type: 'string' } } } } },
    },
  },
  '/twilio/whisper/{token}': {
    post: {
      operationId: 'twilioWarmTransferWhisper',
      summary: 'Warm-transfer briefing (Twilio)',
      description: 'Twilio fetches this when the person a call is warm-transferred to answers: TwiML that speaks the briefing before the caller is connected. The signed, expiring token carries the text.',
      tags: ['Twilio'],
      security: [],
      parameters: [{ name: 'token', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: { description: 'TwiML', content: { 'text/xml': { schema: { type: 'string' } } } } },
    },
  },
  '/twilio/status': {
    post: {
      operationId: 'twilioStatusCallback',
      summary: "Twilio's call status callback",
      description: 'Call progress (StatusCallback: ringing, answered, completed, busy, no-answer, failed) and asynchronous answering-machine detection results; signed like the voice webhook.',
      tags: ['Twilio'],
      security: [],
      requestBody: twilioForm('CallSid, CallStatus, AnsweredBy, …'),
      responses: { 204: { description: 'Recorded' } },
    },
  },
  '/twilio/stream': {
    get: {
      operationId: 'twilioMediaStream',
      summary: 'Twilio media stream (WebSocket)',
      description:
        'WebSocket upgrade for Twilio Media Streams (bidirectional μ-law audio). Not called directly: the TwiML from /twilio/voice points Twilio here with a signed, single-use stream token.',
      tags: ['Twilio'],
      security: [],
      responses: { 101: { description: 'Switching protocols to WebSocket' } },
    },
  },
};
