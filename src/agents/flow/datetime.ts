// Dates and times from recognised speech: "fry day", "the twenty seventh", "march third",
// "seven thirty p m", "half past six". Dates are calendar dates in the tenant's time zone; all
// arithmetic runs on UTC midnights so daylight-saving changes cannot shift a day.
import { mergeTokens, normalise, tokenSimilarity } from './fuzzy.js';
import {
  STRONG_HOMOPHONES,
  UNIT_WORDS,
  isDigits,
  numberToWords,
  ordinalSuffix,
  parseNumberWords,
  parseOrdinal,
} from './numbers.js';

/** A calendar date: ISO `YYYY-MM-DD` for systems, `spoken` ("Friday, November 27th") for replies. */
export interface DateValue {
  readonly kind: 'date';
  readonly iso: string;
  readonly spoken: string;
}

/** A time of day: 24-hour `hhmm` ("19:30") for systems, `spoken` ("seven thirty p.m.") for replies. */
export interface TimeValue {
  readonly kind: 'time';
  readonly hhmm: string;
  readonly spoken: string;
}

export interface DateContext {
  /** The moment "today" is computed from. */
  readonly now: Date;
  /** IANA zone that "today" is in. Default 'UTC'. */
  readonly timezone?: string | undefined;
}

export const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
export const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september',
  'october', 'november', 'december'] as const;

const WEEKDAY_ALIASES: Readonly<Record<string, number>> = {
  tues: 2, weds: 3, wednes: 3, wensday: 3, wendsday: 3, thurs: 4, thur: 4, thursdays: 4,
};
const MONTH_ALIASES: Readonly<Record<string, number>> = {
  jan: 1, feb: 2, febuary: 2, mar: 3, apr: 4, jun: 6, jul: 7, aug: 8, sept: 9, sep: 9, oct: 10, nov: 11, dec: 12,
};
const DATE_VOCAB = [...WEEKDAYS, ...MONTHS, 'today', 'tomorrow', 'tonight', 'weekend'];

interface Ymd {
  readonly year: number;
  readonly month: number; // 1..12
  readonly day: number;
}

/** Today's calendar date in `timezone` at `now`. */
export function calendarDateIn(now: Date, timezone = 'UTC'): Ymd {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  }).formatToParts(now);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day') };
}

function utcMs(d: Ymd): number {
  return Date.UTC(d.year, d.month - 1, d.day);
}

function addDays(d: Ymd, days: number): Ymd {
  const t = new Date(utcMs(d) + days * 86_400_000);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

function weekdayOf(d: Ymd): number {
  return new Date(utcMs(d)).getUTCDay();
}

function isValid(d: Ymd): boolean {
  const t = new Date(utcMs(d));
  return t.getUTCFullYear() === d.year && t.getUTCMonth() + 1 === d.month && t.getUTCDate() === d.day;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The DateValue of a calendar date (month 1..12). */
export function makeDateValue(year: number, month: number, day: number): DateValue {
  const d = { year, month, day };
  const iso = `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  const spoken = `${capitalise(WEEKDAYS[weekdayOf(d)] ?? '')}, ${capitalise(MONTHS[month - 1] ?? '')} ${ordinalSuffix(day)}`;
  return { kind: 'date', iso, spoken };
}

function toValue(d: Ymd): DateValue {
  return makeDateValue(d.year, d.month, d.day);
}

function weekdayIndex(token: string): number | undefined {
  const exact = WEEKDAYS.indexOf(token.replace(/s$/, '') as (typeof WEEKDAYS)[number]);
  if (exact >= 0) return exact;
  const alias = WEEKDAY_ALIASES[token];
  if (alias !== undefined) return alias;
  if (token.length < 5) return undefined;
  let best = { index: -1, sim: 0 };
  WEEKDAYS.forEach((w, index) => {
    const sim = tokenSimilarity(token, w);
    if (sim > best.sim) best = { index, sim };
  });
  return best.sim >= 0.8 ? best.index : undefined;
}

function monthNumber(token: string): number | undefined {
  const exact = MONTHS.indexOf(token as (typeof MONTHS)[number]);
  if (exact >= 0) return exact + 1;
  const alias = MONTH_ALIASES[token];
  if (alias !== undefined) return alias;
  if (token.length < 5) return undefined;
  let best = { month: 0, sim: 0 };
  MONTHS.forEach((m, i) => {
    const sim = tokenSimilarity(token, m);
    if (sim > best.sim) best = { month: i + 1, sim };
  });
  return best.sim >= 0.85 ? best.month : undefined;
}

/** A day of the month at `start`: ordinal ("27th", "twenty seventh") or cardinal ("27", "twenty seven"). */
function dayAt(tokens: readonly string[], start: number): { value: number; end: number; ordinal: boolean } | undefined {
  const ord = parseOrdinal(tokens, start);
  if (ord && ord.value >= 1 && ord.value <= 31) return { ...ord, ordinal: true };
  const t = tokens[start] ?? '';
  if (isDigits(t)) {
    const n = Number(t);
    return n >= 1 && n <= 31 ? { value: n, end: start + 1, ordinal: false } : undefined;
  }
  const words = parseNumberWords(tokens, start);
  if (words && words.value >= 1 && words.value <= 31) return { ...words, ordinal: false };
  return undefined;
}

/** Next occurrence of month/day on or after today; undefined when the day does not exist. */
function upcomingMonthDay(today: Ymd, month: number, day: number, year?: number): Ymd | undefined {
  if (year !== undefined) {
    const d = { year, month, day };
    return isValid(d) ? d : undefined;
  }
  for (const y of [today.year, today.year + 1]) {
    const d = { year: y, month, day };
    if (isValid(d) && utcMs(d) >= utcMs(today)) return d;
  }
  return undefined;
}

function explicitDate(raw: string, today: Ymd): Ymd | undefined {
  const iso = /\b(\d{4})-(\d{1,2})-(\d{1,2})\b/.exec(raw);
  if (iso) {
    const d = { year: Number(iso[1]), month: Number(iso[2]), day: Number(iso[3]) };
    if (isValid(d)) return d;
  }
  // US order, as the tenant's callers write it: 11/27 or 11/27/2026.
  const us = /\b(\d{1,2})\/(\d{1,2})(?:\/(\d{4}|\d{2}))?\b/.exec(raw);
  if (us) {
    const y = us[3] === undefined ? undefined : Number(us[3].length === 2 ? `20${us[3]}` : us[3]);
    return upcomingMonthDay(today, Number(us[1]), Number(us[2]), y);
  }
  return undefined;
}

/**
 * A date in the utterance, resolved against today in the context's time zone. Understands, most
 * specific first: ISO "2026-11-27" and "11/27"; a month with a day ("march third", "the 3rd of
 * march", "november 27 2026"); a day of the month ("the fifth" → next such date); "today",
 * "tonight", "tomorrow", "the day after tomorrow", "in three days", "in a week"; weekday names
 * (today counts; "next friday" means the next one after today) and "weekend" (Saturday).
 * Misrecognised names are matched fuzzily ("fry day", "wensday").
 */
export function extractDate(utterance: string, ctx: DateContext): DateValue | undefined {
  const today = calendarDateIn(ctx.now, ctx.timezone ?? 'UTC');
  const raw = utterance.toLowerCase();
  const explicit = explicitDate(raw, today);
  if (explicit) return toValue(explicit);

  const tokens = mergeTokens(normalise(raw).split(' ').filter(Boolean), DATE_VOCAB);

  // Month with a day on either side.
  for (let i = 0; i < tokens.length; i++) {
    const month = monthNumber(tokens[i] ?? '');
    if (month === undefined) continue;
    let j = i + 1;
    if (tokens[j] === 'the') j++;
    const after = dayAt(tokens, j);
    if (after) {
      const yearToken = tokens[after.end] ?? '';
      const year = /^\d{4}$/.test(yearToken) ? Number(yearToken) : undefined;
      const d = upcomingMonthDay(today, month, after.value, year);
      if (d) return toValue(d);
    }
    if (tokens[i - 1] === 'of') {
      for (const start of [i - 3, i - 2]) {
        if (start < 0) continue;
        const before = dayAt(tokens, start);
        if (before && before.end === i - 1) {
          const d = upcomingMonthDay(today, month, before.value);
          if (d) return toValue(d);
        }
      }
    }
  }

  // Day of the month alone: "the fifth", "on the 27th".
  for (let i = 0; i < tokens.length; i++) {
    const prev = tokens[i - 1];
    const ord = parseOrdinal(tokens, i);
    if (!ord || ord.value < 1 || ord.value > 31) continue;
    if (prev !== 'the' && prev !== 'on' && tokens.length > 3) continue;
    for (let k = 0; k < 13; k++) {
      const m0 = today.month - 1 + k;
      const d = { year: today.year + Math.floor(m0 / 12), month: (m0 % 12) + 1, day: ord.value };
      if (isValid(d) && utcMs(d) >= utcMs(today)) return toValue(d);
    }
  }

  const text = tokens.join(' ');
  if (/\bday after tomorrow\b/.test(text)) return toValue(addDays(today, 2));
  if (tokens.includes('tomorrow')) return toValue(addDays(today, 1));
  if (tokens.includes('today') || tokens.includes('tonight')) return toValue(today);
  const inDays = /\bin (a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (day|days|week|weeks)\b/.exec(text);
  if (inDays) {
    const nText = inDays[1] ?? '';
    const n = nText === 'a' || nText === 'an' ? 1 : isDigits(nText) ? Number(nText) : (UNIT_WORDS[nText] ?? 1);
    return toValue(addDays(today, inDays[2]?.startsWith('week') ? n * 7 : n));
  }

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    const wd = t === 'weekend' ? 6 : weekdayIndex(t);
    if (wd === undefined) continue;
    let ahead = (wd - weekdayOf(today) + 7) % 7;
    if (tokens[i - 1] === 'next' && ahead === 0) ahead = 7;
    return toValue(addDays(today, ahead));
  }
  return undefined;
}

function hourWord(token: string): number | undefined {
  if (isDigits(token)) {
    const n = Number(token);
    return n <= 23 ? n : undefined;
  }
  const n = UNIT_WORDS[token] ?? STRONG_HOMOPHONES[token];
  return n !== undefined && n >= 1 && n <= 12 ? n : undefined;
}

/** Minutes after an hour: "thirty", "forty five", "oh five", "30", "o clock" (0). */
function minutesAt(tokens: readonly string[], i: number): { value: number; end: number } | undefined {
  const t = tokens[i] ?? '';
  if (t === 'oclock') return { value: 0, end: i + 1 };
  if (t === 'o' && tokens[i + 1] === 'clock') return { value: 0, end: i + 2 };
  if (/^\d{2}$/.test(t) && Number(t) < 60) return { value: Number(t), end: i + 1 };
  if (t === 'oh' || t === 'o') {
    const u = UNIT_WORDS[tokens[i + 1] ?? ''];
    return u !== undefined && u < 10 ? { value: u, end: i + 2 } : undefined;
  }
  const words = parseNumberWords(tokens, i);
  if (words && words.value >= 10 && words.value < 60) return words;
  return undefined;
}

const PM_WORDS = new Set(['pm', 'afternoon', 'evening', 'night', 'tonight']);
const AM_WORDS = new Set(['am', 'morning']);

/** Spoken form of a 24-hour time: "seven thirty p.m.", "noon", "midnight". */
export function spokenTime(hour: number, minute: number): string {
  if (minute === 0 && hour === 12) return 'noon';
  if (minute === 0 && hour === 0) return 'midnight';
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  const mins = minute === 0 ? '' : minute < 10 ? ` oh ${numberToWords(minute)}` : ` ${numberToWords(minute)}`;
  return `${numberToWords(h12)}${mins} ${hour < 12 ? 'a.m.' : 'p.m.'}`;
}

function timeValue(hour: number, minute: number): TimeValue {
  return {
    kind: 'time',
    hhmm: `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`,
    spoken: spokenTime(hour, minute),
  };
}

/**
 * A time of day in the utterance: "7:30 pm", "seven thirty", "half past six", "quarter to
 * eight", "ten past nine", "seven o'clock in the evening", "noon", "midnight", "19:00".
 * Without a.m./p.m. (or morning/evening) a 12-hour time is guessed as business hours:
 * 7–11 → morning, 12 → noon, 1–6 → afternoon.
 */
export function extractTime(utterance: string): TimeValue | undefined {
  const prepared = utterance.toLowerCase().replace(/(\d)(am|pm|a\.m\.|p\.m\.)/g, '$1 $2');
  const raw = normalise(prepared).split(' ').filter(Boolean);
  // Join the letters of "a m" / "p m" and "o clock".
  const tokens: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i] ?? '';
    if ((t === 'a' || t === 'p') && raw[i + 1] === 'm') {
      tokens.push(`${t}m`);
      i++;
    } else tokens.push(t);
  }
  if (tokens.includes('noon') || tokens.includes('midday')) return timeValue(12, 0);
  if (tokens.includes('midnight')) return timeValue(0, 0);

  const meridiemAfter = (from: number): 'am' | 'pm' | undefined => {
    for (let k = from; k < Math.min(tokens.length, from + 4); k++) {
      const t = tokens[k] ?? '';
      if (AM_WORDS.has(t)) return 'am';
      if (PM_WORDS.has(t)) return 'pm';
    }
    return tokens.includes('tonight') || tokens.includes('evening') ? 'pm' : undefined;
  };
  const resolve = (hour: number, minute: number, meridiem: 'am' | 'pm' | undefined): TimeValue | undefined => {
    if (minute < 0 || minute > 59 || hour > 23) return undefined;
    let h = hour;
    if (hour <= 12) {
      if (meridiem === 'am') h = hour === 12 ? 0 : hour;
      else if (meridiem === 'pm') h = hour === 12 ? 12 : hour + 12;
      else h = hour >= 1 && hour <= 6 ? hour + 12 : hour;
    }
    return timeValue(h, minute);
  };

  // "half past six", "quarter to eight", "ten past nine", "twenty minutes to five".
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] ?? '';
    if (t !== 'past' && t !== 'after' && t !== 'to' && t !== 'till' && t !== 'before') continue;
    const hour = hourWord(tokens[i + 1] ?? '');
    if (hour === undefined) continue;
    let j = i - 1;
    if (tokens[j] === 'minutes') j--;
    const m = tokens[j] ?? '';
    let minutes: number | undefined;
    if (m === 'half') minutes = 30;
    else if (m === 'quarter') minutes = 15;
    else if (isDigits(m)) minutes = Number(m);
    else {
      // Number words ending at j: try one- and two-word spans.
      for (const start of [j - 1, j]) {
        const p = start >= 0 ? parseNumberWords(tokens, start) : undefined;
        if (p && p.end === j + 1) minutes = p.value;
      }
    }
    if (minutes === undefined || minutes >= 60) continue;
    const before = t === 'to' || t === 'till' || t === 'before';
    const hour24 = before ? (hour > 12 ? hour - 1 : (hour + 11) % 12 || 12) : hour;
    return resolve(hour24, before ? 60 - minutes : minutes, meridiemAfter(i + 2));
  }

  // "seven thirty", "7 30 pm", "seven o clock", "at seven"; explicit markers win over bare numbers.
  let fallback: { hour: number; minute: number; at: number; strength: number } | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const hour = hourWord(tokens[i] ?? '');
    if (hour === undefined) continue;
    const mins = minutesAt(tokens, i + 1);
    const end = mins?.end ?? i + 1;
    const marker = AM_WORDS.has(tokens[end] ?? '') || PM_WORDS.has(tokens[end] ?? '');
    const prev = tokens[i - 1] ?? '';
    const strength = mins || marker ? 3 : prev === 'at' || prev === 'around' || prev === 'by' || prev === 'about' ? 2 : 1;
    if (!fallback || strength > fallback.strength) fallback = { hour, minute: mins?.value ?? 0, at: end, strength };
    if (strength === 3) break;
  }
  if (fallback) return resolve(fallback.hour, fallback.minute, meridiemAfter(fallback.at));
  return undefined;
}
