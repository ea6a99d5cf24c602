// Number words both ways. The recogniser spells numbers as words ("twenty one"), sometimes as a
// homophone ("tree nights"); replies speak numbers as words so transcripts read like speech.

/** Zero to nineteen. */
export const UNIT_WORDS: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19,
};

export const TENS_WORDS: Readonly<Record<string, number>> = {
  twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};

const SCALE_WORDS: Readonly<Record<string, number>> = { thousand: 1000, million: 1_000_000 };

/** Ordinal words up to thirty-first (enough for days of the month). */
export const ORDINAL_WORDS: Readonly<Record<string, number>> = {
  first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9,
  tenth: 10, eleventh: 11, twelfth: 12, thirteenth: 13, fourteenth: 14, fifteenth: 15,
  sixteenth: 16, seventeenth: 17, eighteenth: 18, nineteenth: 19, twentieth: 20, thirtieth: 30,
};

/**
 * Misrecognitions of number words that are rarely anything else in a booking dialog; accepted
 * wherever a number may stand.
 */
export const STRONG_HOMOPHONES: Readonly<Record<string, number>> = {
  tree: 3, free: 3, fife: 5, sicks: 6, niner: 9,
};

/**
 * Homophones that are common words ("to", "for"); accepted only where the context says number:
 * the token stands alone or is followed by a plural noun ("for nights"), see `findNumber`.
 */
export const WEAK_HOMOPHONES: Readonly<Record<string, number>> = {
  won: 1, to: 2, too: 2, for: 4, fore: 4, ate: 8,
};

const NOT_PLURAL_NOUNS = new Set(['is', 'was', 'has', 'this', 'us', 'yes', 'its', 'his', 'as', 'does', 'thanks', 'please']);

export function isDigits(token: string): boolean {
  return /^\d+$/.test(token);
}

/** Whether the token can start or continue a spelled-out number. */
export function isNumberWord(token: string): boolean {
  return token in UNIT_WORDS || token in TENS_WORDS || token === 'hundred' || token in SCALE_WORDS;
}

/** A spelled-out number starting at `start`: its value and the index after its last token. */
export function parseNumberWords(
  tokens: readonly string[],
  start: number,
): { readonly value: number; readonly end: number } | undefined {
  let total = 0;
  let current = 0;
  let last: 'none' | 'unit' | 'teen' | 'tens' | 'hundred' | 'scale' = 'none';
  let i = start;
  for (; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    if (t === 'and' && (last === 'hundred' || last === 'scale') && isNumberWord(tokens[i + 1] ?? '')) continue;
    const unit = UNIT_WORDS[t];
    const tens = TENS_WORDS[t];
    const scale = SCALE_WORDS[t];
    if (unit !== undefined) {
      // "one two" is two numbers; "twenty one" is one; "twenty eleven" is two.
      if (last === 'unit' || last === 'teen' || (last === 'tens' && unit >= 10)) break;
      current += unit;
      last = unit < 10 ? 'unit' : 'teen';
    } else if (tens !== undefined) {
      if (last === 'unit' || last === 'teen' || last === 'tens') break;
      current += tens;
      last = 'tens';
    } else if (t === 'hundred') {
      if (last === 'hundred') break;
      current = (current === 0 ? 1 : current) * 100;
      last = 'hundred';
    } else if (scale !== undefined) {
      total += (current === 0 ? 1 : current) * scale;
      current = 0;
      last = 'scale';
    } else {
      break;
    }
  }
  if (last === 'none') return undefined;
  return { value: total + current, end: i };
}

/**
 * The first number in the tokens: digits ("3", "3.5"), words ("twenty one", "a hundred"),
 * "a couple" (2), "a dozen" (12), strong homophones ("tree"), and weak homophones ("for") only
 * when alone or followed by a plural noun. Ordinals ("5th", "third") are not numbers here.
 */
export function findNumber(tokens: readonly string[]): number | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    const next = tokens[i + 1];
    if (/^\d+(\.\d+)?$/.test(t)) {
      // "3 5" from "3.5" after punctuation stripping is not reconstructed; digits stand alone.
      return Number(t);
    }
    if (t === 'a' && (next === 'hundred' || next === 'thousand' || next === 'million')) {
      const parsed = parseNumberWords(tokens, i + 1);
      if (parsed) return parsed.value;
    }
    if (t === 'couple' || t === 'pair') return 2;
    if (t === 'dozen') return 12;
    if (isNumberWord(t) && !(t in SCALE_WORDS) && t !== 'hundred') {
      const parsed = parseNumberWords(tokens, i);
      if (parsed) return parsed.value;
    }
    const strong = STRONG_HOMOPHONES[t];
    if (strong !== undefined) return strong;
    const weak = WEAK_HOMOPHONES[t];
    if (weak !== undefined) {
      const alone = tokens.length === 1;
      const beforePlural =
        next !== undefined && next.length > 3 && next.endsWith('s') && !NOT_PLURAL_NOUNS.has(next) && !isNumberWord(next);
      if (alone || beforePlural) return weak;
    }
  }
  return undefined;
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten',
  'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

function below1000(n: number): string {
  const parts: string[] = [];
  const h = Math.floor(n / 100);
  const rest = n % 100;
  if (h > 0) parts.push(`${ONES[h]} hundred`);
  if (rest > 0 || h === 0) {
    if (rest < 20) parts.push(ONES[rest] ?? '');
    else parts.push(rest % 10 === 0 ? (TENS[rest / 10] ?? '') : `${TENS[Math.floor(rest / 10)]} ${ONES[rest % 10]}`);
  }
  return parts.join(' and ');
}

/** English words for an integer below one billion ("twenty one"); other numbers as digits. */
export function numberToWords(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) >= 1_000_000_000) return String(n);
  if (n < 0) return `minus ${numberToWords(-n)}`;
  if (n < 1000) return below1000(n);
  const parts: string[] = [];
  const millions = Math.floor(n / 1_000_000);
  const thousands = Math.floor((n % 1_000_000) / 1000);
  const rest = n % 1000;
  if (millions > 0) parts.push(`${below1000(millions)} million`);
  if (thousands > 0) parts.push(`${below1000(thousands)} thousand`);
  if (rest > 0) parts.push(below1000(rest));
  return parts.join(' ');
}

/** "1st", "2nd", "3rd", "11th", "22nd". */
export function ordinalSuffix(n: number): string {
  const mod100 = n % 100;
  if (mod100 >= 11 && mod100 <= 13) return `${n}th`;
  switch (n % 10) {
    case 1:
      return `${n}st`;
    case 2:
      return `${n}nd`;
    case 3:
      return `${n}rd`;
    default:
      return `${n}th`;
  }
}

/**
 * An ordinal starting at `start`: "5th", "fifth", "twenty seventh", "twenty 7th".
 * Returns the value and the index after it.
 */
export function parseOrdinal(
  tokens: readonly string[],
  start: number,
): { readonly value: number; readonly end: number } | undefined {
  const t = tokens[start] ?? '';
  const digit = /^(\d{1,2})(st|nd|rd|th)$/.exec(t);
  if (digit) return { value: Number(digit[1]), end: start + 1 };
  const word = ORDINAL_WORDS[t];
  if (word !== undefined) return { value: word, end: start + 1 };
  const tens = TENS_WORDS[t];
  if (tens !== undefined) {
    const next = tokens[start + 1] ?? '';
    const nextWord = ORDINAL_WORDS[next];
    if (nextWord !== undefined && nextWord < 10) return { value: tens + nextWord, end: start + 2 };
    const nextDigit = /^(\d)(st|nd|rd|th)$/.exec(next);
    if (nextDigit) return { value: tens + Number(nextDigit[1]), end: start + 2 };
  }
  return undefined;
}
