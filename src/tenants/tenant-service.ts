/**
 * The one place tenants change at run time. API-managed tenants are stored as the document the
 * caller gave (input form: `agent` or `agents`, numbers as strings or objects) and served from the
 * TenantDirectory, which every inbound call routes through, so a change takes effect for the next
 * call. Agent and number operations are edits of the stored document, validated as a whole
 * exactly like a new tenant (schema, then provider options), so the stored document always stays
 * a valid tenant file. File tenants are read-only here.
 *
 * Writes run one at a time (an in-process queue): the checks (id taken, number routed by another
 * tenant) and the write cannot interleave with another write. One process: a second instance
 * sees API changes only after its own restart (see docs/tenants.md).
 *
 * Errors are ApiErrors (validation_failed with `{ path, message }` details naming the field,
 * conflict, read_only, not_found): this service exists for the API and speaks its catalog.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { ApiError } from '../api/errors.js';
import { ProviderConfigError, validateTenantProviders } from '../providers/registry.js';
import type { ApiKeysRepo, TenantsRepo } from '../store/store.js';
import { normalizeNumber, type TenantDirectory, type TenantSource } from './directory.js';
import { DEFAULT_AGENT_ID, type TenantConfig, agentSchema, tenantSchema } from './schema.js';

/** A tenant as the API shows it: live configuration, where it is defined, and (API tenants) when it changed. */
export interface TenantRecord {
  readonly tenant: TenantConfig;
  readonly source: TenantSource;
  /** Null for file tenants. */
  readonly createdAtMs: number | null;
  readonly updatedAtMs: number | null;
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export interface TenantServiceDeps {
  readonly store: { readonly tenants: TenantsRepo; readonly apiKeys: Pick<ApiKeysRepo, 'list' | 'revoke'> };
  readonly directory: TenantDirectory;
  readonly logger: Pick<Logger, 'error' | 'info'>;
  readonly now?: () => number;
}

/** A stored tenant document (input form). Only the fields edited here are typed. */
type TenantDocument = Record<string, unknown> & {
  agent?: unknown;
  agents?: Record<string, unknown>;
  defaultAgent?: unknown;
  phoneNumbers?: unknown[];
};

type NumberEntry = string | { number: string; agent?: string };

export class TenantService {
  readonly directory: TenantDirectory;
  private readonly store: TenantServiceDeps['store'];
  private readonly logger: TenantServiceDeps['logger'];
  private readonly now: () => number;
  private readonly times = new Map<string, { createdAtMs: number; updatedAtMs: number }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(deps: TenantServiceDeps) {
    this.store = deps.store;
    this.directory = deps.directory;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
  }

  /**
   * Start-up: puts the stored API tenants into the directory. A stored tenant that no longer
   * validates (e.g. a provider removed from this build), that has a file tenant's id, or that
   * claims a number another tenant routes is logged and skipped: start-up never fails on one.
   */
  loadStored(): Promise<{ loaded: string[]; skipped: string[] }> {
    return this.exclusive(async () => {
      const loaded: string[] = [];
      const skipped: string[] = [];
      for (const stored of await this.store.tenants.list()) {
        const skip = (reason: string, extra: Record<string, unknown> = {}): void => {
          skipped.push(stored.id);
          this.logger.error({ tenantId: stored.id, ...extra }, `stored API tenant skipped: ${reason}`);
        };
        if (this.directory.source(stored.id) === 'file') {
          skip('a tenant file defines the same id (the file wins; delete one of them)');
          continue;
        }
        let tenant: TenantConfig;
        try {
          tenant = validateTenantDocument(stored.document);
        } catch (err) {
          skip('its document no longer validates', { issues: err instanceof ApiError ? err.details : String(err) });
          continue;
        }
        if (tenant.id !== stored.id) {
          skip(`its document names another id (${tenant.id})`);
          continue;
        }
        const clash = this.directory.numberConflict(tenant);
        if (clash) {
          skip(`${clash.number} is already routed by tenant ${clash.tenantId}`);
          continue;
        }
        this.directory.put(tenant, 'api');
        this.times.set(stored.id, { createdAtMs: stored.createdAtMs, updatedAtMs: stored.updatedAtMs });
        loaded.push(stored.id);
      }
      if (loaded.length > 0) this.logger.info({ tenants: loaded }, 'loaded API tenants');
      return { loaded, skipped };
    });
  }

  /** Every tenant (file and API), by id. */
  list(): TenantRecord[] {
    return this.directory
      .all()
      .map((t) => this.recordOf(t))
      .sort((a, b) => (a.tenant.id < b.tenant.id ? -1 : a.tenant.id > b.tenant.id ? 1 : 0));
  }

  get(id: string): TenantRecord | undefined {
    const t = this.directory.get(id);
    return t === undefined ? undefined : this.recordOf(t);
  }

  /** Creates an API tenant from a tenant document. */
  create(document: unknown): Promise<TenantRecord> {
    return this.exclusive(async () => {
      const doc = asDocument(document);
      const tenant = validateTenantDocument(doc);
      if (this.directory.get(tenant.id) !== undefined) throw new ApiError('conflict', { message: `Tenant ${tenant.id} already exists`, details: [{ path: 'id', message: 'already used' }] });
      this.refuseRoutedNumbers(tenant);
      const now = this.now();
      if (!(await this.store.tenants.create(tenant.id, doc, now))) {
        throw new ApiError('conflict', { message: `Tenant ${tenant.id} already exists`, details: [{ path: 'id', message: 'already used' }] });
      }
      this.directory.put(tenant, 'api');
      this.times.set(tenant.id, { createdAtMs: now, updatedAtMs: now });
      return this.recordOf(tenant);
    });
  }

  /** Replaces an API tenant's whole document; its id cannot change. */
  replace(id: string, document: unknown): Promise<TenantRecord> {
    return this.exclusive(async () => {
      this.writable(id);
      const doc = asDocument(document);
      const tenant = validateTenantDocument(doc);
      if (tenant.id !== id) throw new ApiError('validation_failed', { details: [{ path: 'id', message: `must be "${id}" (the id in the URL); a tenant's id cannot change` }] });
      return this.save(tenant, doc);
    });
  }

  /** Deletes an API tenant and revokes its API keys. Its calls and documents stay in the store. */
  delete(id: string): Promise<void> {
    return this.exclusive(async () => {
      this.writable(id);
      await this.store.tenants.delete(id);
      this.directory.remove(id);
      this.times.delete(id);
      const now = this.now();
      for (const key of await this.store.apiKeys.list(id)) {
        if (key.revokedAtMs === null) await this.store.apiKeys.revoke(id, key.id, now);
      }
    });
  }

  /** Creates or replaces one agent. `created` tells which. */
  putAgent(tenantId: string, agentId: string, agentDocument: unknown): Promise<{ record: TenantRecord; created: boolean }> {
    return this.exclusive(async () => {
      const parsed = agentSchema.safeParse(agentDocument);
      if (!parsed.success) throw validationError(zodIssues(parsed.error));
      const created = this.writable(tenantId).agents[agentId] === undefined;
      const record = await this.edit(tenantId, (doc) => {
        if (agentId === DEFAULT_AGENT_ID && doc.agent !== undefined) doc.agent = agentDocument;
        else doc.agents = { ...(doc.agents ?? {}), [agentId]: agentDocument };
        return agentId === DEFAULT_AGENT_ID && doc.agent !== undefined ? ['agent'] : ['agents', agentId];
      });
      return { record, created };
    });
  }

  /** Deletes an agent no number routes to; a tenant keeps at least one agent. */
  deleteAgent(tenantId: string, agentId: string): Promise<TenantRecord> {
    return this.exclusive(async () => {
      const tenant = this.writable(tenantId);
      if (tenant.agents[agentId] === undefined) throw new ApiError('not_found', { message: `Agent ${agentId} not found` });
      if (Object.keys(tenant.agents).length === 1) throw new ApiError('conflict', { message: `Agent ${agentId} is the tenant's only agent; a tenant needs at least one` });
      const routed = tenant.phoneNumbers.filter((r) => r.agentId === agentId).map((r) => r.number);
      if (routed.length > 0) {
        throw new ApiError('conflict', { message: `Agent ${agentId} still answers ${routed.join(', ')}; route those numbers to another agent first`, details: routed.map((n) => ({ path: 'phoneNumbers', message: `${n} routes to ${agentId}` })) });
      }
      return this.edit(tenantId, (doc) => {
        if (doc.defaultAgent === agentId) throw new ApiError('conflict', { message: `Agent ${agentId} is the tenant's defaultAgent; make another agent the default first` });
        if (agentId === DEFAULT_AGENT_ID && doc.agent !== undefined) delete doc.agent;
        else if (doc.agents !== undefined) {
          const { [agentId]: _removed, ...rest } = doc.agents;
          if (Object.keys(rest).length > 0) doc.agents = rest;
          else delete doc.agents;
        }
      });
    });
  }

  /** Routes a new number to an agent (the default agent when omitted). */
  addNumber(tenantId: string, number: string, agentId?: string): Promise<TenantRecord> {
    return this.exclusive(async () => {
      const tenant = this.writable(tenantId);
      if (agentId !== undefined) this.requireAgent(tenant, agentId);
      if (indexOfNumber(numberEntries(tenant.phoneNumbers.map((r) => r.number)), number) >= 0) {
        throw new ApiError('conflict', { message: `${number} is already one of this tenant's numbers` });
      }
      return this.edit(tenantId, (doc) => {
        const entry: NumberEntry = agentId === undefined ? number : { number, agent: agentId };
        doc.phoneNumbers = [...numberEntries(doc.phoneNumbers), entry];
      });
    });
  }

  /** Routes one of the tenant's numbers to another of its agents. */
  setNumberAgent(tenantId: string, number: string, agentId: string): Promise<TenantRecord> {
    return this.exclusive(async () => {
      const tenant = this.writable(tenantId);
      if (!tenant.phoneNumbers.some((r) => normalizeNumber(r.number) === normalizeNumber(number))) throw numberNotFound(number);
      this.requireAgent(tenant, agentId);
      return this.edit(tenantId, (doc) => {
        const entries = numberEntries(doc.phoneNumbers);
        const i = indexOfNumber(entries, number);
        if (i < 0) throw numberNotFound(number);
        entries[i] = { number: entryNumber(entries[i] as NumberEntry), agent: agentId };
        doc.phoneNumbers = entries;
      });
    });
  }

  /** Stops routing a number to this tenant (the next call to it hears "not in service"). */
  removeNumber(tenantId: string, number: string): Promise<TenantRecord> {
    return this.exclusive(async () => {
      this.writable(tenantId);
      return this.edit(tenantId, (doc) => {
        const entries = numberEntries(doc.phoneNumbers);
        const i = indexOfNumber(entries, number);
        if (i < 0) throw numberNotFound(number);
        entries.splice(i, 1);
        doc.phoneNumbers = entries;
      });
    });
  }

  // ---------- internals ----------

  /** Runs `fn` after every write queued before it (writes never interleave). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private recordOf(tenant: TenantConfig): TenantRecord {
    const times = this.times.get(tenant.id);
    return { tenant, source: this.directory.source(tenant.id) ?? 'api', createdAtMs: times?.createdAtMs ?? null, updatedAtMs: times?.updatedAtMs ?? null };
  }

  /** The live tenant, when it exists and is an API tenant; not_found / read_only otherwise. */
  private writable(id: string): TenantConfig {
    const tenant = this.directory.get(id);
    if (tenant === undefined) throw new ApiError('not_found', { message: `Tenant ${id} not found` });
    if (this.directory.source(id) === 'file') throw new ApiError('read_only', { message: `Tenant ${id} is defined by a file on the server; change the file instead` });
    return tenant;
  }

  private requireAgent(tenant: TenantConfig, agentId: string): void {
    if (tenant.agents[agentId] === undefined) {
      throw new ApiError('validation_failed', { message: `Unknown agent ${agentId}`, details: [{ path: 'agentId', message: `the tenant has no agent "${agentId}"` }] });
    }
  }

  private refuseRoutedNumbers(tenant: TenantConfig): void {
    const clash = this.directory.numberConflict(tenant);
    if (clash === undefined) return;
    const i = tenant.phoneNumbers.findIndex((r) => r.number === clash.number);
    // The other tenant is not named: a tenant key must learn nothing about other tenants.
    throw new ApiError('conflict', { message: `${clash.number} is already routed by another tenant`, details: [{ path: `phoneNumbers.${i}`, message: 'routed by another tenant' }] });
  }

  /**
   * Edits the stored document of an API tenant and saves it if the result validates. `edit`
   * may return the path of the part it replaced: issues inside it are reported relative to it
   * (the request body), issues elsewhere with their document path.
   */
  private async edit(tenantId: string, edit: (doc: TenantDocument) => string[] | undefined | void): Promise<TenantRecord> {
    const stored = await this.store.tenants.get(tenantId);
    if (stored === undefined) throw new ApiError('not_found', { message: `Tenant ${tenantId} not found` });
    const doc = structuredClone(stored.document) as TenantDocument;
    const relativeTo = edit(doc) || undefined;
    let tenant: TenantConfig;
    try {
      tenant = validateTenantDocument(doc);
    } catch (err) {
      if (relativeTo === undefined || !(err instanceof ApiError) || !Array.isArray(err.details)) throw err;
      const prefix = `${relativeTo.join('.')}.`;
      const details = (err.details as ValidationIssue[]).map((d) => (d.path.startsWith(prefix) ? { ...d, path: d.path.slice(prefix.length) } : d));
      throw validationError(details);
    }
    return this.save(tenant, doc);
  }

  private async save(tenant: TenantConfig, doc: TenantDocument): Promise<TenantRecord> {
    this.refuseRoutedNumbers(tenant);
    const now = this.now();
    if (!(await this.store.tenants.replace(tenant.id, doc, now))) throw new ApiError('not_found', { message: `Tenant ${tenant.id} not found` });
    this.directory.put(tenant, 'api');
    const createdAtMs = this.times.get(tenant.id)?.createdAtMs ?? now;
    this.times.set(tenant.id, { createdAtMs, updatedAtMs: now });
    return this.recordOf(tenant);
  }
}

/**
 * Validates a tenant document as a tenant file is validated: the schema, then every provider's
 * options. Throws validation_failed whose details name each field by its path in the document.
 * No `${NAME}` expansion: API documents never read the server's environment.
 */
export function validateTenantDocument(document: unknown): TenantConfig {
  const parsed = tenantSchema.safeParse(document);
  if (!parsed.success) throw validationError(zodIssues(parsed.error));
  try {
    validateTenantProviders(parsed.data);
  } catch (err) {
    if (err instanceof ProviderConfigError) throw validationError([providerIssue(err, document as TenantDocument)]);
    throw err;
  }
  return parsed.data;
}

function validationError(details: ValidationIssue[]): ApiError {
  return new ApiError('validation_failed', { message: 'The tenant configuration is invalid', details });
}

function zodIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/**
 * Maps a provider error (`agents.<id>.<kind>[<i>].<option>: <message>`, named after the parsed
 * tenant) to the field's path in the document as written: `agent` for the default agent given as
 * `agent`, and no index when the document gives one provider rather than a list.
 */
function providerIssue(err: ProviderConfigError, doc: TenantDocument): ValidationIssue {
  const m = /^agents\.([^.]+)\.(stt|llm|tts)\[(\d+)\]\.(.*?): (.*)$/s.exec(err.message);
  if (!m) return { path: '', message: err.message };
  const [, agentId = '', kind = '', index = '0', option = '', message = ''] = m;
  const base = agentId === DEFAULT_AGENT_ID && doc.agent !== undefined ? ['agent'] : ['agents', agentId];
  const agentDoc = (base[0] === 'agent' ? doc.agent : doc.agents?.[agentId]) as Record<string, unknown> | undefined;
  const path = [...base, kind];
  if (Array.isArray(agentDoc?.[kind])) path.push(index);
  if (option !== '(options)') path.push(option);
  return { path: path.join('.'), message };
}

function asDocument(document: unknown): TenantDocument {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw validationError([{ path: '', message: 'a tenant document is a JSON object' }]);
  }
  return structuredClone(document) as TenantDocument;
}

function numberEntries(list: unknown): NumberEntry[] {
  return Array.isArray(list) ? ([...list] as NumberEntry[]) : [];
}

function entryNumber(e: NumberEntry): string {
  return typeof e === 'string' ? e : e.number;
}

function indexOfNumber(entries: readonly NumberEntry[], number: string): number {
  const wanted = normalizeNumber(number);
  return entries.findIndex((e) => normalizeNumber(entryNumber(e)) === wanted);
}

function numberNotFound(number: string): ApiError {
  return new ApiError('not_found', { message: `${number} is not one of this tenant's numbers` });
}
