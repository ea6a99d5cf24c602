/**
 * OpenAPI document → sdk/src/generated.ts: TypeScript types for every schema the document holds
 * and one typed method per /v1 operation (named after its operationId). Pure: the same document
 * always gives the same text, which is how the test checks the checked-in file is current.
 *
 * Handles the JSON Schema subset z.toJSONSchema emits: object (properties, required,
 * additionalProperties), array (items, prefixItems), enum, const, anyOf/oneOf/allOf, type arrays
 * (nullable), string/number/integer/boolean/null, and $ref to components. Anything else is
 * `unknown` (never a wrong type).
 */

type Schema = Record<string, unknown>;

interface OpenApiLike {
  paths: Record<string, Record<string, Schema>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Operations under this prefix become SDK methods; the rest (health, Twilio) are not client calls. */
const SDK_PATH_PREFIX = '/v1/';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pascal(s: string): string {
  return s.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_m, _sep, c: string) => c.toUpperCase());
}

function propName(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function comment(text: unknown, indent: string): string {
  if (typeof text !== 'string' || text.trim() === '') return '';
  const lines = text.replace(/\*\//g, '*\\/').split('\n');
  if (lines.length === 1) return `${indent}/** ${lines[0]} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ` ${l}` : ''}`).join('\n')}\n${indent} */\n`;
}

function literal(v: unknown): string {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v) ? JSON.stringify(v) : 'unknown';
}

function union(parts: string[]): string {
  const unique = [...new Set(parts)];
  if (unique.includes('unknown')) return 'unknown';
  return unique.length === 0 ? 'never' : unique.length === 1 ? (unique[0] as string) : unique.map(paren).join(' | ');
}

/** Wraps function/union/intersection types where they would bind wrongly (inside unions, before []). */
function paren(t: string): string {
  return /^[\w$."'[\]<>, ]+$/.test(t) || /^\{[\s\S]*\}$/.test(t) ? t : `(${t})`;
}

/** The TypeScript type of a JSON Schema. `indent` is the indentation of the line the type starts on. */
export function tsType(schema: unknown, indent = ''): string {
  if (schema === true || schema === undefined) return 'unknown';
  if (schema === false) return 'never';
  if (schema === null || typeof schema !== 'object') return 'unknown';
  const s = schema as Schema;
  if (typeof s.$ref === 'string') {
    const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
    return m ? pascal(m[1] as string) : 'unknown';
  }
  if ('const' in s) return literal(s.const);
  if (Array.isArray(s.enum)) return union(s.enum.map(literal));
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) return union((s[key] as unknown[]).map((x) => tsType(x, indent)));
  }
  if (Array.isArray(s.allOf)) return (s.allOf as unknown[]).map((x) => paren(tsType(x, indent))).join(' & ');
  if (Array.isArray(s.type)) return union((s.type as unknown[]).map((t) => tsType({ ...s, type: t }, indent)));
  switch (s.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array': {
      if (Array.isArray(s.prefixItems)) {
        const items = (s.prefixItems as unknown[]).map((x) => tsType(x, indent));
        return `[${items.join(', ')}${s.items !== undefined && s.items !== false ? `, ...${paren(tsType(s.items, indent))}[]` : ''}]`;
      }
      return `${paren(tsType(s.items, indent))}[]`;
    }
    case 'object':
      return objectType(s, indent);
    default:
      return s.properties !== undefined ? objectType(s, indent) : 'unknown';
  }
}

function objectType(s: Schema, indent: string): string {
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required ?? []) as string[]);
  const extra = s.additionalProperties;
  const names = Object.keys(props);
  // A map: no fixed properties, only additionalProperties (z.record).
  if (names.length === 0) {
    if (extra === false) return 'Record<string, never>';
    return `Record<string, ${extra === undefined || extra === true ? 'unknown' : tsType(extra, indent)}>`;
  }
  const inner = `${indent}  `;
  const lines = names.map((name) => {
    const p = props[name] as Schema;
    return `${comment(p.description, inner)}${inner}${propName(name)}${required.has(name) ? '' : '?'}: ${tsType(p, inner)};\n`;
  });
  // Other keys allowed (loose objects): typed unknown, which every declared property type fits.
  if (extra !== undefined && extra !== false) lines.push(`${inner}[key: string]: unknown;\n`);
  return `{\n${lines.join('')}${indent}}`;
}

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  operationId: string;
  method: (typeof METHODS)[number];
  path: string;
  summary?: string;
  description?: string;
  access?: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  body?: { schema: Schema; required: boolean };
  response: { kind: 'json' | 'text' | 'binary' | 'none'; schema?: Schema };
}

function operationsOf(doc: OpenApiLike): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith(SDK_PATH_PREFIX)) continue;
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const operationId = op.operationId;
      if (typeof operationId !== 'string' || !IDENTIFIER.test(operationId)) throw new Error(`${method.toUpperCase()} ${path}: operationId must be an identifier, got ${String(operationId)}`);
      const params = (op.parameters ?? []) as Parameter[];
      const pathOrder = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
      const pathParams = pathOrder.map((name) => params.find((p) => p.in === 'path' && p.name === name) ?? { name, in: 'path' as const, required: true, schema: { type: 'string' } });
      const rb = op.requestBody as { required?: boolean; content?: Record<string, { schema?: Schema }> } | undefined;
      const jsonBody = rb?.content?.['application/json']?.schema;
      ops.push({
        operationId,
        method,
        path,
        summary: op.summary as string | undefined,
        description: op.description as string | undefined,
        access: op['x-parley-access'] as string | undefined,
        pathParams,
        queryParams: params.filter((p) => p.in === 'query'),
        ...(jsonBody !== undefined ? { body: { schema: jsonBody, required: rb?.required === true } } : {}),
        response: successResponse(op.responses as Record<string, Schema> | undefined),
      });
    }
  }
  const seen = new Set<string>();
  for (const o of ops) {
    if (seen.has(o.operationId)) throw new Error(`operationId ${o.operationId} is used twice`);
    seen.add(o.operationId);
  }
  return ops.sort((a, b) => (a.operationId < b.operationId ? -1 : a.operationId > b.operationId ? 1 : 0));
}

function successResponse(responses: Record<string, Schema> | undefined): Operation['response'] {
  const status = Object.keys(responses ?? {})
    .filter((s) => /^2\d\d$/.test(s))
    .sort()[0];
  const r = status === undefined ? undefined : (responses?.[status] as { content?: Record<string, { schema?: Schema }> });
  const types = Object.keys(r?.content ?? {});
  if (r === undefined || types.length === 0) return { kind: 'none' };
  const json = types.find((t) => t === 'application/json' || t.endsWith('+json'));
  if (json !== undefined) return { kind: 'json', schema: r.content?.[json]?.schema ?? {} };
  return types.some((t) => t.startsWith('text/')) ? { kind: 'text' } : { kind: 'binary' };
}

/** True when an object schema has no required property (so the argument may be omitted). */
function allOptional(schema: Schema, components: Record<string, Schema>): boolean {
  let s = schema;
  const ref = typeof s.$ref === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(s.$ref)?.[1] : undefined;
  if (ref !== undefined) s = components[ref] ?? {};
  return s.type === 'object' && ((s.required as unknown[] | undefined) ?? []).length === 0;
}

const HEADER = `// Generated by scripts/generate-sdk.ts from Parley's OpenAPI document (GET /docs/json).
// Do not edit: change the routes, then run \`npx tsx scripts/generate-sdk.ts\`.
/* eslint-disable */
`;

/** The text of sdk/src/generated.ts for an OpenAPI document. */
export function generateSdkSource(doc: OpenApiLike): string {
  const components = doc.components?.schemas ?? {};
  const ops = operationsOf(doc);
  const out: string[] = [HEADER, `import { ParleyClientBase, pathParam, type RequestOptions } from './client.js';\n`];
  const typeNames = new Set<string>();
  const declare = (name: string, type: string, description?: unknown): void => {
    if (typeNames.has(name)) throw new Error(`two generated types are named ${name}; rename a schema id or an operationId`);
    typeNames.add(name);
    out.push(`\n${comment(description, '')}export type ${name} = ${type};\n`);
  };

  for (const name of Object.keys(components).sort()) declare(pascal(name), tsType(components[name]), (components[name] as Schema).description);

  const methods: string[] = [];
  const opList: string[] = [];
  for (const op of ops) {
    const P = pascal(op.operationId);
    const args: string[] = [];
    for (const p of op.pathParams) args.push(`${safeArg(p.name)}: ${p.schema?.type === 'integer' || p.schema?.type === 'number' ? 'number' : 'string'}`);
    if (op.body !== undefined) {
      declare(`${P}Body`, tsType(op.body.schema));
      args.push(`body${op.body.required && !allOptional(op.body.schema, components) ? '' : '?'}: ${P}Body`);
    }
    if (op.queryParams.length > 0) {
      const required = op.queryParams.filter((q) => q.required).map((q) => q.name);
      const props = Object.fromEntries(op.queryParams.map((q) => [q.name, { ...(q.schema ?? {}), ...(q.description ? { description: q.description } : {}) }]));
      declare(`${P}Query`, tsType({ type: 'object', properties: props, required }));
      args.push(`query${required.length > 0 ? '' : '?'}: ${P}Query`);
    }
    args.push('options?: RequestOptions');
    let result = 'void';
    if (op.response.kind === 'json') {
      declare(`${P}Response`, tsType(op.response.schema));
      result = `${P}Response`;
    } else if (op.response.kind === 'text') result = 'string';
    else if (op.response.kind === 'binary') result = 'ArrayBuffer';

    const pathExpr = `\`${op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => `\${pathParam(${safeArg(name)})}`)}\``;
    const fields = [
      `method: '${op.method.toUpperCase()}'`,
      `path: ${pathExpr}`,
      `tenantScoped: ${op.access === 'tenant'}`,
      ...(op.queryParams.length > 0 ? ['query'] : []),
      ...(op.body !== undefined ? ['body'] : []),
      `response: '${op.response.kind}'`,
    ];
    const doc = [op.summary, op.description].filter((x): x is string => typeof x === 'string' && x !== '').join('\n\n');
    methods.push(
      `\n${comment(`${doc}\n\n\`${op.method.toUpperCase()} ${op.path}\``, '  ')}  ${op.operationId}(${args.join(', ')}): Promise<${result}> {\n    return this.request<${result}>({ ${fields.join(', ')} }, options);\n  }\n`,
    );
    opList.push(`  { operationId: '${op.operationId}', method: '${op.method.toUpperCase()}', path: '${op.path}' },\n`);
  }

  out.push(`\n/** Every operation of the API this SDK was generated from. */\nexport const operations = [\n${opList.join('')}] as const;\n`);
  out.push(`\n/** A Parley API client: one method per operation. */\nexport class ParleyClient extends ParleyClientBase {${methods.join('')}}\n`);
  return out.join('');
}

/** Path parameter names as argument names (a parameter could be called e.g. `default`). */
function safeArg(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return RESERVED.has(id) ? `${id}_` : id;
}

const RESERVED = new Set(['default', 'delete', 'new', 'class', 'function', 'var', 'let', 'const', 'return', 'body', 'query', 'options']);
