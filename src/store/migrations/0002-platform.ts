import { type Kysely, type Migration, sql } from 'kysely';

/**
 * The platform tables: API-managed tenants, hashed API keys, knowledge documents (with an FTS5
 * index), webhook deliveries, scheduled callbacks; and the post-call columns of calls.
 * FTS5 is SQLite's; a Postgres store would index documents with tsvector instead (documents-repo).
 */
export const migration0002Platform: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('tenants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('document', 'text', (c) => c.notNull())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('key_sha256', 'text', (c) => c.notNull().unique())
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at_ms', 'bigint')
      .addColumn('revoked_at_ms', 'bigint')
      .execute();
    await db.schema.createIndex('api_keys_tenant_idx').on('api_keys').column('tenant_id').execute();

    await db.schema
      .createTable('documents')
      .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('content', 'text', (c) => c.notNull())
      .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('documents_tenant_idx').on('documents').columns(['tenant_id', 'created_at_ms']).execute();
    // External-content FTS5 index kept in step by triggers; porter stemming so "rooms" finds "room".
    await sql`create virtual table documents_fts using fts5(title, content, content='documents', content_rowid='seq', tokenize='porter unicode61')`.execute(db);
    await sql`create trigger documents_ai after insert on documents begin
      insert into documents_fts(rowid, title, content) values (new.seq, new.title, new.content); end`.execute(db);
    await sql`create trigger documents_ad after delete on documents begin
      insert into documents_fts(documents_fts, rowid, title, content) values ('delete', old.seq, old.title, old.content); end`.execute(db);
    await sql`create trigger documents_au after update on documents begin
      insert into documents_fts(documents_fts, rowid, title, content) values ('delete', old.seq, old.title, old.content);
      insert into documents_fts(rowid, title, content) values (new.seq, new.title, new.content); end`.execute(db);

    await db.schema
      .createTable('webhook_deliveries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('event_type', 'text', (c) => c.notNull())
      .addColumn('call_id', 'text')
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at_ms', 'bigint')
      .addColumn('last_status_code', 'integer')
      .addColumn('last_error', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at_ms', 'bigint')
      .execute();
    await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['status', 'next_attempt_at_ms']).execute();
    await db.schema.createIndex('webhook_deliveries_tenant_idx').on('webhook_deliveries').columns(['tenant_id', 'created_at_ms']).execute();

    await db.schema
      .createTable('callbacks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text', (c) => c.notNull())
      .addColumn('to_number', 'text', (c) => c.notNull())
      .addColumn('from_number', 'text')
      .addColumn('due_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('variables', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('source_call_id', 'text')
      .addColumn('placed_call_id', 'text')
      .addColumn('error', 'text')
      .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('callbacks_due_idx').on('callbacks').columns(['status', 'due_at_ms']).execute();
    await db.schema.createIndex('callbacks_tenant_idx').on('callbacks').columns(['tenant_id', 'due_at_ms']).execute();

    for (const column of ['answered_by', 'summary']) {
      await db.schema.alterTable('calls').addColumn(column, 'text').execute();
    }
    for (const column of ['usage', 'cost', 'extraction', 'recording']) {
      await db.schema.alterTable('calls').addColumn(column, 'text').execute();
    }
    // caller_history and quotas look calls up by tenant and number / by tenant and day.
    await db.schema.createIndex('calls_tenant_from_idx').on('calls').columns(['tenant_id', 'from_number', 'started_at_ms']).execute();
    await db.schema.createIndex('calls_tenant_to_idx').on('calls').columns(['tenant_id', 'to_number', 'started_at_ms']).execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    for (const t of ['callbacks', 'webhook_deliveries', 'documents_fts', 'documents', 'api_keys', 'tenants']) {
      await sql`drop table if exists ${sql.id(t)}`.execute(db);
    }
  },
};
