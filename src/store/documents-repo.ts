import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import { fromJsonText, toMs } from './codec.js';
import type { Database, DocumentsTable } from './schema.js';
import type { DocumentHit, DocumentRow } from './types.js';

/** A tenant's knowledge documents, full-text searched with SQLite FTS5 (bm25 ranking, porter stemming). */
export interface DocumentsRepo {
  create(d: { tenantId: string; title: string; content: string; metadata?: Record<string, unknown>; nowMs: number }): Promise<DocumentRow>;
  get(tenantId: string, id: string): Promise<DocumentRow | undefined>;
  /** Newest first, without content. */
  list(tenantId: string, o?: { limit?: number; offset?: number }): Promise<Omit<DocumentRow, 'content'>[]>;
  update(tenantId: string, id: string, patch: { title?: string; content?: string; metadata?: Record<string, unknown> }, nowMs: number): Promise<boolean>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Best matches for free text (any word may match; all-words matches rank higher). */
  search(tenantId: string, text: string, limit?: number): Promise<DocumentHit[]>;
}

function toRow(r: Selectable<DocumentsTable>): DocumentRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    title: r.title,
    content: r.content,
    metadata: fromJsonText(r.metadata),
    createdAtMs: toMs(r.created_at_ms),
    updatedAtMs: toMs(r.updated_at_ms),
  };
}

/**
 * Turns caller words into an FTS5 query: each word quoted (so FTS syntax in the input is inert),
 * joined with OR so a question finds documents sharing any of its words; bm25 ranks documents
 * with more (and rarer) matches first. Undefined when nothing searchable remains.
 */
export function toFtsQuery(text: string): string | undefined {
  const words = text
    .toLowerCase()
    .normalize('NFKC')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 1 && !STOP_WORDS.has(w))
    .slice(0, 32);
  if (words.length === 0) return undefined;
  return [...new Set(words)].map((w) => `"${w}"`).join(' OR ');
}

const STOP_WORDS = new Set(
  'a an and are as at be by can do does for from has have how i in is it me my of on or our please tell that the their there this to was what when where which who why will with you your'.split(' '),
);

export function createDocumentsRepo(db: Kysely<Database>): DocumentsRepo {
  return {
    async create(d) {
      const id = `doc_${randomUUID().replaceAll('-', '')}`;
      await db
        .insertInto('documents')
        .values({ id, tenant_id: d.tenantId, title: d.title, content: d.content, metadata: JSON.stringify(d.metadata ?? {}), created_at_ms: d.nowMs, updated_at_ms: d.nowMs })
        .execute();
      return { id, tenantId: d.tenantId, title: d.title, content: d.content, metadata: d.metadata ?? {}, createdAtMs: d.nowMs, updatedAtMs: d.nowMs };
    },
    async get(tenantId, id) {
      const r = await db.selectFrom('documents').selectAll().where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return r === undefined ? undefined : toRow(r);
    },
    async list(tenantId, o = {}) {
      const rows = await db
        .selectFrom('documents')
        .select(['id', 'tenant_id', 'title', 'metadata', 'created_at_ms', 'updated_at_ms'])
        .where('tenant_id', '=', tenantId)
        .orderBy('created_at_ms', 'desc')
        .orderBy('seq', 'desc')
        .limit(Math.min(Math.max(o.limit ?? 50, 1), 200))
        .offset(Math.max(o.offset ?? 0, 0))
        .execute();
      return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id, title: r.title, metadata: fromJsonText(r.metadata), createdAtMs: toMs(r.created_at_ms), updatedAtMs: toMs(r.updated_at_ms) }));
    },
    async update(tenantId, id, patch, nowMs) {
      const set: Record<string, unknown> = { updated_at_ms: nowMs };
      if (patch.title !== undefined) set.title = patch.title;
      if (patch.content !== undefined) set.content = patch.content;
      if (patch.metadata !== undefined) set.metadata = JSON.stringify(patch.metadata);
      const r = await db.updateTable('documents').set(set).where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async delete(tenantId, id) {
      const r = await db.deleteFrom('documents').where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },
    async search(tenantId, text, limit = 3) {
      const q = toFtsQuery(text);
      if (q === undefined) return [];
      const n = Math.min(Math.max(limit, 1), 20);
      const { rows } = await sql<{ id: string; title: string; snippet: string; rank: number }>`
        select d.id as id, d.title as title,
               snippet(documents_fts, 1, '[', ']', ' … ', 32) as snippet,
               bm25(documents_fts, 2.0, 1.0) as rank
        from documents_fts join documents d on d.seq = documents_fts.rowid
        where documents_fts match ${q} and d.tenant_id = ${tenantId}
        order by rank limit ${n}`.execute(db);
      return rows.map((r) => ({ id: r.id, title: r.title, snippet: r.snippet, rank: Number(r.rank) }));
    },
  };
}
