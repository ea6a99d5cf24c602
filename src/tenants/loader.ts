import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { type TenantConfig, tenantSchema } from './schema.js';

/** Thrown when a tenant file cannot be used; the message names the file and the field. */
export class TenantConfigError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'TenantConfigError';
  }
}

const TENANT_FILE_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Replaces `${NAME}` in every string value with `env[NAME]`, so secrets can stay out of files.
 * An unset variable is an error (a silently empty API key fails much later and less clearly).
 */
export function expandEnvReferences(value: unknown, env: Readonly<Record<string, string | undefined>>, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new Error(`${path.join('.') || '(root)'}: environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnvReferences(v, env, [...path, String(i)]));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnvReferences(v, env, [...path, k])]));
  }
  return value;
}

export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** Parses and validates one tenant document (already read from `file`). */
export function parseTenantDocument(file: string, text: string, env: Readonly<Record<string, string | undefined>>): TenantConfig {
  let raw: unknown;
  try {
    raw = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (err) {
    throw new TenantConfigError(file, `not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  let expanded: unknown;
  try {
    expanded = expandEnvReferences(raw, env);
  } catch (err) {
    throw new TenantConfigError(file, (err as Error).message);
  }
  const parsed = tenantSchema.safeParse(expanded);
  if (!parsed.success) throw new TenantConfigError(file, formatZodIssues(parsed.error));
  return parsed.data;
}

/**
 * Loads every tenant file in `dir`. Fails on the first invalid file, and on two tenants
 * claiming the same id or phone number (routing must be unambiguous).
 */
export async function loadTenantsDir(dir: string, env: Readonly<Record<string, string | undefined>>): Promise<TenantConfig[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => TENANT_FILE_EXTENSIONS.has(extname(n))).sort();
  } catch (err) {
    throw new TenantConfigError(dir, `cannot read tenants directory: ${(err as Error).message}`);
  }
  const tenants: TenantConfig[] = [];
  const idOwner = new Map<string, string>();
  const numberOwner = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    const tenant = parseTenantDocument(file, await readFile(file, 'utf8'), env);
    const prior = idOwner.get(tenant.id);
    if (prior) throw new TenantConfigError(file, `id: "${tenant.id}" is already used by ${prior}`);
    idOwner.set(tenant.id, file);
    for (const [i, { number }] of tenant.phoneNumbers.entries()) {
      const owner = numberOwner.get(number);
      if (owner) throw new TenantConfigError(file, `phoneNumbers.${i}: ${number} is already routed by ${owner}`);
      numberOwner.set(number, file);
    }
    tenants.push(tenant);
  }
  return tenants;
}
