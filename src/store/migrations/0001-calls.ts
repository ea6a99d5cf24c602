import type { Kysely, Migration } from 'kysely';

/**
 * Calls, turns and call events. Column types are chosen to be valid on SQLite and Postgres:
 * `bigint` for epoch ms (Postgres `integer` would overflow; SQLite maps it to INTEGER affinity).
 * The one SQLite-specific bit is the autoincrement event id; a Postgres variant would use an identity column.
 */
export const migration0001Calls: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('calls')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('agent_id', 'text')
      .addColumn('carrier', 'text', (c) => c.notNull())
      .addColumn('carrier_call_sid', 'text')
      .addColumn('stream_sid', 'text')
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('from_number', 'text', (c) => c.notNull())
      .addColumn('to_number', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('end_reason', 'text')
      .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('answered_at_ms', 'bigint')
      .addColumn('ended_at_ms', 'bigint')
      .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema.createIndex('calls_carrier_call_sid_idx').on('calls').column('carrier_call_sid').execute();
    // Serves the newest-first listing (optionally per tenant) and its cursor predicate.
    await db.schema
      .createIndex('calls_tenant_started_idx')
      .on('calls')
      .columns(['tenant_id', 'started_at_ms', 'id'])
      .execute();
    await db.schema.createIndex('calls_started_idx').on('calls').columns(['started_at_ms', 'id']).execute();
    // closeAbandoned() scans for in-progress calls at every start.
    await db.schema.createIndex('calls_status_idx').on('calls').column('status').execute();

    await db.schema
      .createTable('turns')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
      .addColumn('ended_at_ms', 'bigint')
      .addColumn('interrupted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('latency', 'text', (c) => c.notNull().defaultTo('{}'))
      .addUniqueConstraint('turns_call_seq_unique', ['call_id', 'seq'])
      .execute();

    await db.schema
      .createTable('call_events')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('at_ms', 'bigint', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema.createIndex('call_events_call_at_idx').on('call_events').columns(['call_id', 'at_ms']).execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('call_events').execute();
    await db.schema.dropTable('turns').execute();
    await db.schema.dropTable('calls').execute();
  },
};
