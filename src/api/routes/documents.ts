/**
 * `/v1/documents` — a tenant's knowledge documents, searched by the `search_knowledge` tool
 * during calls (SQLite FTS5, bm25). Upload JSON `{ title, content, metadata? }`, or the text
 * itself as `text/plain` / `text/markdown` with `?title=`. Tenant-scoped: another tenant's
 * document is a 404.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DocumentRow, DocumentsRepo } from '../../store/store.js';
import type { TenantService } from '../../tenants/tenant-service.js';
import { ApiError } from '../errors.js';
import { describeBodyContent } from '../openapi.js';
import { defineRoute } from '../route.js';
import { actingTenant } from './tenant-views.js';

/** Largest document content, in UTF-8 bytes (1 MiB): search indexes whole documents. */
export const DOCUMENT_CONTENT_MAX_BYTES = 1024 * 1024;
/**
 * Body limit of document uploads: the content limit plus room for JSON escaping of
 * quote- and newline-heavy text (each escaped character doubles); larger bodies are 413.
 */
const DOCUMENT_BODY_LIMIT_BYTES = 2 * DOCUMENT_CONTENT_MAX_BYTES + 64 * 1024;
const TEXT_CONTENT_TYPES = ['text/plain', 'text/markdown'] as const;

export interface DocumentRoutesDeps {
  documents: DocumentsRepo;
  tenants: Pick<TenantService, 'get'>;
  now?: () => number;
}

const TAGS = ['Documents'];

const contentSchema = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s, 'utf8') <= DOCUMENT_CONTENT_MAX_BYTES, { message: `at most ${DOCUMENT_CONTENT_MAX_BYTES} bytes (UTF-8)` })
  .describe(`The text (plain or Markdown), at most ${DOCUMENT_CONTENT_MAX_BYTES} UTF-8 bytes.`);
const titleSchema = z.string().min(1).max(500);
const metadataSchema = z.record(z.string(), z.unknown()).describe('Free-form JSON object, returned as given.');

const createJson = z.object({ title: titleSchema, content: contentSchema, metadata: metadataSchema.optional() }).meta({ id: 'NewDocument' });
const updateJson = z
  .object({ title: titleSchema.optional(), content: contentSchema.optional(), metadata: metadataSchema.optional() })
  .refine((b) => b.title !== undefined || b.content !== undefined || b.metadata !== undefined, { message: 'give title, content or metadata' })
  .meta({ id: 'DocumentPatch' });
/** A text upload: the raw body is the content. */
const textBody = contentSchema;

const createBody = describeBodyContent(z.union([createJson, textBody]), {
  'application/json': createJson,
  'text/plain': textBody,
  'text/markdown': textBody,
});
const updateBody = describeBodyContent(z.union([updateJson, textBody]), {
  'application/json': updateJson,
  'text/plain': textBody,
  'text/markdown': textBody,
});

const uploadQuery = z.object({ title: titleSchema.optional().describe('The title of a text/plain or text/markdown upload.') });

export const documentSummarySchema = z
  .object({ id: z.string(), title: z.string(), metadata: z.record(z.string(), z.unknown()), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'DocumentSummary' });
export const documentSchema = documentSummarySchema.extend({ content: z.string() }).meta({ id: 'Document' });
const hitSchema = z
  .object({ id: z.string(), title: z.string(), snippet: z.string().describe('The best-matching passage, matched terms in [brackets].'), rank: z.number().describe('bm25; lower is better.') })
  .meta({ id: 'DocumentHit' });

const iso = (ms: number): string => new Date(ms).toISOString();
const toSummary = (d: Omit<DocumentRow, 'content'>): z.output<typeof documentSummarySchema> => ({
  id: d.id,
  title: d.title,
  metadata: d.metadata,
  createdAt: iso(d.createdAtMs),
  updatedAt: iso(d.updatedAtMs),
});
const toDocument = (d: DocumentRow): z.output<typeof documentSchema> => ({ ...toSummary(d), content: d.content });

export function registerDocumentRoutes(app: FastifyInstance, deps: DocumentRoutesDeps): void {
  const now = deps.now ?? Date.now;
  // Own scope: document bodies get their own parsers and limit without changing other routes.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: DOCUMENT_BODY_LIMIT_BYTES }, scope.getDefaultJsonParser('error', 'error'));
    scope.addContentTypeParser([...TEXT_CONTENT_TYPES], { parseAs: 'string', bodyLimit: DOCUMENT_CONTENT_MAX_BYTES }, (_req, body, done) => done(null, body));
    registerIn(scope);
  });

  function registerIn(scope: FastifyInstance): void {
    const idParams = z.object({ id: z.string().min(1).max(128) });
    const notFound = (id: string) => new ApiError('not_found', { message: `Document ${id} not found` });

    defineRoute(
      scope,
      {
        method: 'POST',
        path: '/documents',
        operationId: 'createDocument',
        summary: 'Add a knowledge document',
        description: `JSON \`{ title, content, metadata? }\`, or the text itself as \`text/plain\` or \`text/markdown\` with \`?title=\`. Content up to ${DOCUMENT_CONTENT_MAX_BYTES} bytes. Searchable by the search_knowledge tool at once.`,
        tags: TAGS,
        access: 'tenant',
        query: uploadQuery,
        body: createBody,
        responses: { 201: { description: 'The document', schema: documentSchema } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        const b = ctx.body;
        const input = typeof b === 'string' ? { title: requireTitle(ctx.query.title), content: b } : b;
        return toDocument(await deps.documents.create({ tenantId: tenant.id, title: input.title, content: input.content, metadata: 'metadata' in input ? input.metadata : undefined, nowMs: now() }));
      },
    );

    defineRoute(
      scope,
      {
        method: 'GET',
        path: '/documents',
        operationId: 'listDocuments',
        summary: 'List knowledge documents',
        description: 'Newest first, without content.',
        tags: TAGS,
        access: 'tenant',
        query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), offset: z.coerce.number().int().min(0).default(0) }),
        responses: { 200: { description: 'Documents', schema: z.object({ data: z.array(documentSummarySchema) }) } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        return { data: (await deps.documents.list(tenant.id, { limit: ctx.query.limit, offset: ctx.query.offset })).map(toSummary) };
      },
    );

    defineRoute(
      scope,
      {
        method: 'GET',
        path: '/documents/search',
        operationId: 'searchDocuments',
        summary: 'Search knowledge documents',
        description: 'Full-text search as the search_knowledge tool does it: any word may match; documents matching more (and rarer) words rank first.',
        tags: TAGS,
        access: 'tenant',
        query: z.object({ q: z.string().min(1).max(1000), limit: z.coerce.number().int().min(1).max(20).default(5) }),
        responses: { 200: { description: 'Best matches first', schema: z.object({ data: z.array(hitSchema) }) } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        return { data: await deps.documents.search(tenant.id, ctx.query.q, ctx.query.limit) };
      },
    );

    defineRoute(
      scope,
      {
        method: 'GET',
        path: '/documents/:id',
        operationId: 'getDocument',
        summary: 'Get a knowledge document',
        tags: TAGS,
        access: 'tenant',
        params: idParams,
        responses: { 200: { description: 'The document with its content', schema: documentSchema }, 404: { description: 'No such document' } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        const d = await deps.documents.get(tenant.id, ctx.params.id);
        if (d === undefined) throw notFound(ctx.params.id);
        return toDocument(d);
      },
    );

    defineRoute(
      scope,
      {
        method: 'PUT',
        path: '/documents/:id',
        operationId: 'updateDocument',
        summary: 'Update a knowledge document',
        description: 'JSON with any of `title`, `content`, `metadata` (the others are kept), or new text as `text/plain` / `text/markdown` (with an optional `?title=`).',
        tags: TAGS,
        access: 'tenant',
        params: idParams,
        query: uploadQuery,
        body: updateBody,
        responses: { 200: { description: 'The document', schema: documentSchema }, 404: { description: 'No such document' } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        const b = ctx.body;
        const patch = typeof b === 'string' ? { content: b, ...(ctx.query.title !== undefined ? { title: ctx.query.title } : {}) } : b;
        if (!(await deps.documents.update(tenant.id, ctx.params.id, patch, now()))) throw notFound(ctx.params.id);
        const d = await deps.documents.get(tenant.id, ctx.params.id);
        if (d === undefined) throw notFound(ctx.params.id);
        return toDocument(d);
      },
    );

    defineRoute(
      scope,
      {
        method: 'DELETE',
        path: '/documents/:id',
        operationId: 'deleteDocument',
        summary: 'Delete a knowledge document',
        tags: TAGS,
        access: 'tenant',
        params: idParams,
        responses: { 204: { description: 'Deleted' }, 404: { description: 'No such document' } },
      },
      async (ctx) => {
        const { tenant } = actingTenant(ctx, deps.tenants);
        if (!(await deps.documents.delete(tenant.id, ctx.params.id))) throw notFound(ctx.params.id);
      },
    );
  }
}

function requireTitle(title: string | undefined): string {
  if (title === undefined) throw new ApiError('validation_failed', { message: 'A text upload needs ?title=', details: [{ path: 'title', message: 'required for text/plain and text/markdown bodies' }] });
  return title;
}
