// Reply templates: "You're booked for {{nights}} nights from {{start_day}}." Output is spoken, so
// values render in their spoken form (numbers as words, dates as "Friday, November 27th").
import { numberToWords } from './numbers.js';
import type { SlotValue } from './slots.js';

/** Call variables: flat dotted keys ("caller.number") and/or nested objects ({caller: {number}}). */
export type TemplateVariables = Readonly<Record<string, unknown>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*(?:\|([^}]*))?\}\}/g;

/**
 * The spoken form of a value: integers below a billion as words, booleans as yes/no, objects by
 * their `spoken` field (dates, times, phones), strings as is. Undefined for null/undefined.
 */
export function formatValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return numberToWords(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && 'spoken' in value && typeof value.spoken === 'string') return value.spoken;
  return undefined;
}

function lookup(path: string, slots: Readonly<Record<string, SlotValue | undefined>>, variables: TemplateVariables): unknown {
  if (Object.hasOwn(slots, path) && slots[path] !== undefined) return slots[path];
  if (Object.hasOwn(variables, path)) return variables[path];
  let cur: unknown = variables;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Fills `{{name}}` placeholders from slots, then call variables (dotted paths such as
 * `{{caller.number}}`). A missing value renders as the default after a bar (`{{name|there}}`) or
 * as nothing; the spaces an empty value leaves behind are tidied (no doubled spaces, no space
 * before punctuation).
 */
export function renderTemplate(
  template: string,
  slots: Readonly<Record<string, SlotValue | undefined>> = {},
  variables: TemplateVariables = {},
): string {
  let emptied = false;
  const out = template.replace(PLACEHOLDER, (_m, path: string, fallback: string | undefined) => {
    const text = formatValue(lookup(path, slots, variables));
    if (text !== undefined && text !== '') return text;
    const d = fallback?.trim() ?? '';
    if (d === '') emptied = true;
    return d;
  });
  if (!emptied) return out;
  return out
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/ +([,.!?;:])/g, '$1')
    .replace(/^[ ,]+/, '')
    .trim();
}
