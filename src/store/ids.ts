import { randomUUID } from 'node:crypto';

/** New Parley call id, e.g. `call_3f2a…` (32 hex chars of randomness). */
export function newCallId(): string {
  return `call_${randomUUID().replaceAll('-', '')}`;
}

/** New turn id, e.g. `turn_…`. Callers pick turn ids so they can update a turn they inserted. */
export function newTurnId(): string {
  return `turn_${randomUUID().replaceAll('-', '')}`;
}
