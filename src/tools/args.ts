/**
 * Checks a model's tool arguments against the tool's JSON Schema before the tool runs, so a tool
 * sees only the shapes it declared and a model gets a precise message to correct itself with.
 *
 * A deliberate subset of JSON Schema: type (one or a list), properties, required,
 * additionalProperties (false or a schema), enum, const, minLength, maxLength, pattern, minimum,
 * maximum, exclusiveMinimum, exclusiveMaximum, items, minItems, maxItems. Other keywords are
 * ignored (the tool or its endpoint remains responsible for them). No coercion: "30" is not 30.
 */

type Schema = Record<string, unknown>;

const MAX_DEPTH = 16;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchesType(v: unknown, type: string): boolean {
  const actual = typeOf(v);
  if (type === 'number') return actual === 'number' || actual === 'integer';
  return actual === type;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function check(value: unknown, schema: Schema, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const type = schema['type'];
  const types = typeof type === 'string' ? [type] : Array.isArray(type) ? type.filter((t): t is string => typeof t === 'string') : [];
  if (types.length > 0 && !types.some((t) => matchesType(value, t))) return `${path} must be ${types.join(' or ')}, not ${typeOf(value)}`;
  if (typeof value === 'number' && !Number.isFinite(value)) return `${path} must be a finite number`;

  const en = schema['enum'];
  if (Array.isArray(en) && !en.some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path} must be one of ${en.map(show).join(', ')}`;
  if ('const' in schema && JSON.stringify(schema['const']) !== JSON.stringify(value)) return `${path} must be ${show(schema['const'])}`;

  if (typeof value === 'string') {
    const { minLength, maxLength, pattern } = schema;
    const length = [...value].length;
    if (typeof minLength === 'number' && length < minLength) return `${path} must be at least ${minLength} characters`;
    if (typeof maxLength === 'number' && length > maxLength) return `${path} must be at most ${maxLength} characters`;
    if (typeof pattern === 'string') {
      let re: RegExp | undefined;
      try {
        re = new RegExp(pattern, 'u');
      } catch {
        re = undefined; // an invalid pattern in a tenant schema is not the model's fault
      }
      if (re && !re.test(value)) return `${path} must match ${pattern}`;
    }
  }
  if (typeof value === 'number') {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
    if (typeof minimum === 'number' && value < minimum) return `${path} must be at least ${minimum}`;
    if (typeof maximum === 'number' && value > maximum) return `${path} must be at most ${maximum}`;
    if (typeof exclusiveMinimum === 'number' && value <= exclusiveMinimum) return `${path} must be more than ${exclusiveMinimum}`;
    if (typeof exclusiveMaximum === 'number' && value >= exclusiveMaximum) return `${path} must be less than ${exclusiveMaximum}`;
  }
  if (Array.isArray(value)) {
    const { minItems, maxItems, items } = schema;
    if (typeof minItems === 'number' && value.length < minItems) return `${path} must have at least ${minItems} items`;
    if (typeof maxItems === 'number' && value.length > maxItems) return `${path} must have at most ${maxItems} items`;
    if (isObject(items)) {
      for (let i = 0; i < value.length; i++) {
        const err = check(value[i], items, `${path}[${i}]`, depth + 1);
        if (err) return err;
      }
    }
  }
  if (isObject(value)) {
    const props = isObject(schema['properties']) ? schema['properties'] : {};
    const required = Array.isArray(schema['required']) ? schema['required'] : [];
    for (const name of required) {
      if (typeof name === 'string' && (!Object.hasOwn(value, name) || value[name] === undefined)) return `${path}.${name} is required`;
    }
    const extra = schema['additionalProperties'];
    for (const [name, v] of Object.entries(value)) {
      const sub = props[name];
      if (isObject(sub)) {
        const err = check(v, sub, `${path}.${name}`, depth + 1);
        if (err) return err;
      } else if (extra === false) {
        const known = Object.keys(props);
        return `${path}.${name} is not an accepted argument${known.length > 0 ? ` (accepted: ${known.join(', ')})` : ''}`;
      } else if (isObject(extra)) {
        const err = check(v, extra, `${path}.${name}`, depth + 1);
        if (err) return err;
      }
    }
  }
  return undefined;
}

/** Undefined when `args` satisfies `schema`, else the first problem ("arguments.digits must match …"). */
export function validateArgs(args: unknown, schema: Record<string, unknown>): string | undefined {
  return check(args, { type: 'object', ...schema }, 'arguments', 0);
}
