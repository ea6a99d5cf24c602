// Shared by the flow tests: the demo hotel flow, loaded from the tenant file as the platform would.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { flowSchema, type FlowDefinition } from './schema.js';

export const hotelFile = fileURLToPath(new URL('../../../tenants/hotel.yaml', import.meta.url));

/** The parsed `tenants/hotel.yaml` document. */
export function loadHotelDocument(): Record<string, unknown> & { agent: { flow: unknown } } {
  return YAML.parse(readFileSync(hotelFile, 'utf8')) as Record<string, unknown> & { agent: { flow: unknown } };
}

/** The hotel flow, validated. */
export function loadHotelFlow(): FlowDefinition {
  return flowSchema.parse(loadHotelDocument().agent.flow);
}

/** Monday 23 November 2026, 10:00 in New York (the hotel's zone). */
export const MONDAY = new Date('2026-11-23T15:00:00Z');
