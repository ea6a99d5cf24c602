// Slot values from recognised speech: lowercase, unpunctuated, numbers as words, 5–10% of words
// wrong. Each extractor returns undefined rather than guess when the utterance holds no value.
import { extractDate, extractTime, type DateValue, type TimeValue } from './datetime.js';
import { normalise, phraseSimilarity, tokenize } from './fuzzy.js';
import { TENS_WORDS, UNIT_WORDS, WEAK_HOMOPHONES, findNumber, isDigits } from './numbers.js';

export { extractDate, extractTime, makeDateValue, type DateValue, type TimeValue } from './datetime.js';

export const SLOT_TYPES = ['number', 'date', 'time', 'name', 'phone', 'yesno', 'enum', 'text'] as const;
export type SlotType = (typeof SLOT_TYPES)[number];

/** A phone number: `digits` (with a leading + when spoken) and a digit-by-digit spoken form. */
export interface PhoneValue {
  readonly kind: 'phone';
  readonly digits: string;
  readonly spoken: string;
}

/**
 * A filled slot: number (number), date (DateValue), time (TimeValue), name/enum/text (string),
 * phone (PhoneValue), yesno (boolean). Plain JSON so it can go into the call record as is.
 */
export type SlotValue = number | string | boolean | DateValue | TimeValue | PhoneValue;

export interface ExtractContext {
  /** "Today" for relative dates. */
  readonly now: Date;
  /** IANA zone for "today". Default 'UTC'. */
  readonly timezone?: string | undefined;
  /** Allowed values of an `enum` slot. */
  readonly values?: readonly string[] | undefined;
}

/** The value of a slot of `type` in the utterance, or undefined when there is none. */
export function extractSlot(type: SlotType, utterance: string, ctx: ExtractContext): SlotValue | undefined {
  switch (type) {
    case 'number':
      return findNumber(tokenize(utterance));
    case 'date':
      return extractDate(utterance, ctx);
    case 'time':
      return extractTime(utterance);
    case 'name':
      return extractName(utterance);
    case 'phone':
      return extractPhone(utterance);
    case 'yesno':
      return extractYesNo(utterance);
    case 'enum':
      return extractEnum(utterance, ctx.values ?? []);
    case 'text': {
      const t = utterance.trim();
      return t === '' ? undefined : t;
    }
  }
}

const NAME_MARKERS = [
  ['my', 'name', 'is'],
  ['my', 'names'],
  ['the', 'name', 'is'],
  ['name', 'is'],
  ['names'],
  ['this', 'is'],
  ['it', 'is'],
  ['its'],
  ['i', 'am'],
  ['im'],
  ['call', 'me'],
];
const FILLERS = new Set(['uh', 'um', 'er', 'erm', 'hmm', 'well', 'oh', 'so', 'yes', 'yeah', 'hi', 'hello', 'hey']);
/** Words that end a name ("this is anna calling about…") or show the marker was not a name ("it's fine"). */
const NOT_NAME = new Set(
  ('and i im calling from speaking please thanks thank here about with for to at on in the a an is was ' +
    'fine good great ok okay sure right correct not no yes yeah me you it that this just looking trying ' +
    'wondering interested sorry afraid going calling ringing booked staying').split(' '),
);

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function nameFrom(tokens: readonly string[]): string | undefined {
  const words: string[] = [];
  for (const t of tokens) {
    if (NOT_NAME.has(t) || isDigits(t) || words.length === 3) break;
    words.push(capitalise(t));
  }
  return words.length === 0 ? undefined : words.join(' ');
}

/**
 * A person's name after "my name is", "this is", "it's", "i'm", "call me" (up to three words,
 * capitalised); an utterance of one to three words without a marker is taken as a bare answer.
 */
export function extractName(utterance: string): string | undefined {
  const tokens = tokenize(utterance);
  for (const marker of NAME_MARKERS) {
    for (let i = 0; i + marker.length <= tokens.length; i++) {
      if (marker.every((m, k) => tokens[i + k] === m)) {
        const name = nameFrom(tokens.slice(i + marker.length));
        if (name) return name;
      }
    }
  }
  let start = 0;
  while (start < tokens.length && FILLERS.has(tokens[start] ?? '')) start++;
  const rest = tokens.slice(start);
  if (rest.length === 0 || rest.length > 3) return undefined;
  const name = nameFrom(rest);
  return name !== undefined && name.split(' ').length === rest.length ? name : undefined;
}

const DIGIT_WORDS: Readonly<Record<string, string>> = {
  zero: '0', oh: '0', o: '0', nought: '0', one: '1', two: '2', three: '3', four: '4', five: '5',
  six: '6', seven: '7', eight: '8', nine: '9', tree: '3', niner: '9',
};

function digitsOf(token: string): string | undefined {
  if (isDigits(token)) return token;
  return DIGIT_WORDS[token];
}

function spokenDigits(digits: string): string {
  const plus = digits.startsWith('+');
  const d = plus ? digits.slice(1) : digits;
  let groups: string[];
  if (d.length === 10) groups = [d.slice(0, 3), d.slice(3, 6), d.slice(6)];
  else if (d.length === 11 && d.startsWith('1')) groups = [d.slice(0, 1), d.slice(1, 4), d.slice(4, 7), d.slice(7)];
  else if (d.length === 7) groups = [d.slice(0, 3), d.slice(3)];
  else groups = d.match(/.{1,3}/g) ?? [d];
  const body = groups.map((g) => g.split('').join(' ')).join(', ');
  return plus ? `plus ${body}` : body;
}

/**
 * A phone number spoken digit by digit ("five five five oh one two three"), with "double"/
 * "triple", teens and tens ("twelve thirty four"), "hundred" ("eight hundred"), a leading
 * "plus", and digit homophones next to other digits ("to", "for", "won", "ate"). At least 7 digits.
 */
export function extractPhone(utterance: string): PhoneValue | undefined {
  const tokens = tokenize(utterance.replace(/\+/g, ' plus '));
  const isDigitish = (t: string | undefined): boolean =>
    t !== undefined && (digitsOf(t) !== undefined || t in TENS_WORDS || t in UNIT_WORDS);
  let out = '';
  let plus = false;
  let repeat = 1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    if (t === 'plus' && out === '') {
      plus = true;
      continue;
    }
    if (t === 'double' || t === 'triple') {
      repeat = t === 'double' ? 2 : 3;
      continue;
    }
    let piece = digitsOf(t);
    const unit = UNIT_WORDS[t];
    const tens = TENS_WORDS[t];
    if (piece === undefined && unit !== undefined && unit >= 10) piece = String(unit);
    if (piece === undefined && tens !== undefined) {
      const next = UNIT_WORDS[tokens[i + 1] ?? ''];
      if (next !== undefined && next >= 1 && next <= 9) {
        piece = String(tens + next);
        i++;
      } else piece = String(tens);
    }
    if (t === 'hundred' && out !== '') piece = '00';
    if (t === 'thousand' && out !== '') piece = '000';
    const weak = WEAK_HOMOPHONES[t];
    if (piece === undefined && weak !== undefined && (isDigitish(tokens[i - 1]) || isDigitish(tokens[i + 1]))) {
      piece = String(weak);
    }
    if (piece === undefined) continue;
    out += piece.repeat(piece.length === 1 ? repeat : 1);
    repeat = 1;
  }
  if (out.length < 7 || out.length > 15) return undefined;
  const digits = plus ? `+${out}` : out;
  return { kind: 'phone', digits, spoken: spokenDigits(digits) };
}

const YES = new Set(['yes', 'yeah', 'yea', 'yep', 'yup', 'sure', 'correct', 'right', 'absolutely', 'definitely',
  'ok', 'okay', 'affirmative', 'certainly', 'indeed', 'please', 'perfect', 'exactly', 'fine']);
const NO = new Set(['no', 'nope', 'nah', 'not', 'dont', 'negative', 'wrong', 'incorrect', 'never', 'cancel']);

/** true for yes/yeah/sure/correct…, false for no/nope/not/don't…; the first such word decides. */
export function extractYesNo(utterance: string): boolean | undefined {
  for (const t of tokenize(utterance)) {
    if (NO.has(t)) return false;
    if (YES.has(t)) return true;
  }
  return undefined;
}

/**
 * The allowed value the utterance names, matched fuzzily as a phrase ("double room" in "a dabble
 * room please"); the most similar value at similarity ≥ 0.8 wins, the first declared on ties.
 */
export function extractEnum(utterance: string, values: readonly string[]): string | undefined {
  const tokens = normalise(utterance).split(' ').filter(Boolean);
  let best: { value: string; sim: number } | undefined;
  for (const value of values) {
    const sim = phraseSimilarity(value, tokens);
    if (sim >= 0.8 && (best === undefined || sim > best.sim)) best = { value, sim };
  }
  return best?.value;
}
