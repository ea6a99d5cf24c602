/**
 * Value conversions shared by the repositories: JSON text columns, epoch-ms columns that a
 * Postgres driver may return as strings, and the opaque pagination cursor.
 */

/** Serialises a JSON object for a text column. */
export function toJsonText(value: Record<string, unknown> | undefined): string {
  return JSON.stringify(value ?? {});
}

/** Parses a JSON text column that holds an object; anything else reads as `{}`. */
export function fromJsonText<T extends object = Record<string, unknown>>(text: string | null | undefined): T {
  if (text === null || text === undefined || text === '') return {} as T;
  const parsed: unknown = JSON.parse(text);
  return (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {}) as T;
}

/** Coerces an epoch-ms column value (number, bigint or numeric string) to a number. */
export function toMs(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

/** Like {@link toMs} but keeps null. */
export function toMsOrNull(value: number | string | bigint | null | undefined): number | null {
  return value === null || value === undefined ? null : toMs(value);
}

/** Position of the last call on a page: calls are ordered by (startedAtMs desc, id desc). */
export interface CallCursor {
  startedAtMs: number;
  id: string;
}

/** Encodes a cursor as an opaque URL-safe string. */
export function encodeCursor(c: CallCursor): string {
  return Buffer.from(JSON.stringify([c.startedAtMs, c.id]), 'utf8').toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; undefined if it is not one. */
export function decodeCursor(cursor: string): CallCursor | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
    const [startedAtMs, id] = parsed as unknown[];
    if (typeof startedAtMs !== 'number' || !Number.isFinite(startedAtMs) || typeof id !== 'string') return undefined;
    return { startedAtMs, id };
  } catch {
    return undefined;
  }
}
