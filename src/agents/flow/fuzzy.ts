// Tolerant text matching for speech recognised by pocketsphinx, which gets 5–10% of words wrong:
// "friday" arrives as "fry day", "three" as "tree", "breakfast" as "break fast". Everything here works
// on normalised text (lowercase, no punctuation, number words left as words).

/** Tuning for fuzzy matching. */
export interface FuzzyOptions {
  /**
   * Minimum similarity (0..1) for two tokens to count as the same word. Default 0.8: one edit in a
   * five-letter word ("tree"/"three") passes, one edit in a four-letter word ("look"/"book") does not.
   */
  readonly tokenThreshold?: number;
  /**
   * Factor applied to the example similarity of an intent that declares keywords none of which
   * occur in the utterance. Default 0.6: keywords name the words such an utterance almost always
   * contains, so a sentence with the same shape about something else ("what time does the bar
   * open" vs "what time does the pool open") must not pass on shape alone.
   */
  readonly missingKeywordFactor?: number;
}

export const fuzzyDefaults = {
  tokenThreshold: 0.8,
  missingKeywordFactor: 0.6,
} as const satisfies Required<FuzzyOptions>;

/** What scoreIntent needs of an intent (structurally the flow schema's Intent). */
export interface ScorableIntent {
  readonly name: string;
  readonly examples?: readonly string[] | undefined;
  readonly keywords?: readonly string[] | undefined;
  readonly patterns?: readonly string[] | undefined;
}

/** Lowercases, drops apostrophes ("i'd" → "id"), turns other punctuation into spaces, collapses spaces. */
export function normalise(text: string): string {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/['’‘`]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Tokens of the normalised text. */
export function tokenize(text: string): string[] {
  const n = normalise(text);
  return n === '' ? [] : n.split(' ');
}

/** Edit distance (insert, delete, substitute; each costs 1). */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] ?? 0;
}

/** 1 − distance / longer length; 1 = identical. */
export function levenshteinRatio(a: string, b: string): number {
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - levenshtein(a, b) / longest;
}

const VOWELS = new Set(['a', 'e', 'i', 'o', 'u', 'y']);

/**
 * A small Metaphone-like sound key: digraphs folded (ph→f, th→t, sh/ch→x, ck→k, silent gh),
 * soft c → s, vowels and h/w dropped after the first letter, runs collapsed. "th" folds to "t"
 * on purpose: the recogniser confuses "three" and "tree". The first sound is kept, so "look" and
 * "book" keep different keys.
 */
export function phoneticKey(word: string): string {
  let w = word.toLowerCase().replace(/[^a-z]/g, '');
  if (w === '') return '';
  w = w
    .replace(/^kn/, 'n')
    .replace(/^wr/, 'r')
    .replace(/^wh/, 'w')
    .replace(/^x/, 's')
    .replace(/x/g, 'ks')
    .replace(/tch/g, 'x')
    .replace(/ph/g, 'f')
    .replace(/th/g, 't')
    .replace(/[sc]h/g, 'x')
    .replace(/ck/g, 'k')
    .replace(/(.)gh/g, '$1')
    .replace(/dg/g, 'j')
    .replace(/c(?=[eiy])/g, 's')
    .replace(/c/g, 'k')
    .replace(/q/g, 'k')
    .replace(/z/g, 's')
    .replace(/v/g, 'f');
  let key = VOWELS.has(w[0] ?? '') ? 'A' : (w[0] ?? '').toUpperCase();
  for (const ch of w.slice(1)) {
    if (VOWELS.has(ch) || ch === 'h' || ch === 'w') continue;
    const up = ch.toUpperCase();
    if (key[key.length - 1] !== up) key += up;
  }
  return key;
}

/**
 * Similarity of two tokens, 0..1. Edit ratio, raised to 0.85 when the sound keys agree (and the
 * words are not wildly different), lowered when the first letters and sound keys both differ
 * ("lights"/"nights" is a different word, not a recognition slip of one letter).
 */
export function tokenSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length === 0 || b.length === 0) return 0;
  const ratio = levenshteinRatio(a, b);
  if (Math.min(a.length, b.length) < 3) return ratio;
  const ka = phoneticKey(a);
  const kb = phoneticKey(b);
  if (ka === kb && ka.length >= 2 && ratio >= 0.5) return Math.max(ratio, 0.85);
  if (a[0] !== b[0]) return ratio * 0.9;
  return ratio;
}

/**
 * Joins adjacent tokens that together spell a vocabulary word better than any of them alone:
 * ["fry","day"] with "friday" in the vocabulary → ["friday"]. Runs of 2 and 3 tokens are
 * candidates; the most similar non-overlapping ones win. Merges go by spelling only (edit ratio, no sound key): sound keys ignore vowels,
 * so "the day" would otherwise merge into "today".
 */
export function mergeTokens(
  tokens: readonly string[],
  vocabulary: Iterable<string>,
  threshold: number = fuzzyDefaults.tokenThreshold,
): string[] {
  const vocab = [...new Set(vocabulary)].filter((v) => v.length >= 4);
  if (vocab.length === 0) return [...tokens];
  const candidates: { start: number; width: number; word: string; sim: number }[] = [];
  for (let start = 0; start < tokens.length; start++) {
    for (const width of [2, 3]) {
      if (start + width > tokens.length) continue;
      const parts = tokens.slice(start, start + width);
      const joined = parts.join('');
      let best = { word: '', sim: 0 };
      for (const v of vocab) {
        const sim = levenshteinRatio(joined, v);
        if (sim > best.sim) best = { word: v, sim };
      }
      if (best.sim < threshold) continue;
      const partBest = Math.max(...parts.map((p) => levenshteinRatio(p, best.word)));
      if (best.sim > partBest) candidates.push({ start, width, word: best.word, sim: best.sim });
    }
  }
  // Best merges first, so "is break fast" merges "break fast" (exact) rather than all three.
  candidates.sort((a, b) => b.sim - a.sim || a.width - b.width || a.start - b.start);
  const taken = new Array<boolean>(tokens.length).fill(false);
  const chosen = new Map<number, { width: number; word: string }>();
  for (const c of candidates) {
    if (taken.slice(c.start, c.start + c.width).some(Boolean)) continue;
    for (let k = c.start; k < c.start + c.width; k++) taken[k] = true;
    chosen.set(c.start, c);
  }
  const out: string[] = [];
  for (let i = 0; i < tokens.length; ) {
    const c = chosen.get(i);
    out.push(c ? c.word : (tokens[i] ?? ''));
    i += c ? c.width : 1;
  }
  return out;
}

/**
 * Best similarity of a (possibly multi-word) phrase anywhere in the tokens: the phrase with its
 * spaces removed against every run of 1..(words+1) adjacent tokens joined, so "break fast" meets
 * "breakfast" and "front desk" meets "frontdesk".
 */
export function phraseSimilarity(phrase: string, tokens: readonly string[]): number {
  const words = tokenize(phrase);
  if (words.length === 0 || tokens.length === 0) return 0;
  const target = words.join('');
  const maxWidth = Math.min(tokens.length, words.length + 1);
  let best = 0;
  for (let width = 1; width <= maxWidth; width++) {
    for (let i = 0; i + width <= tokens.length; i++) {
      const sim = tokenSimilarity(tokens.slice(i, i + width).join(''), target);
      if (sim > best) best = sim;
      if (best === 1) return 1;
    }
  }
  return best;
}

/** Function words weigh little in example overlap: sharing "i want to" says nothing about intent. */
const STOPWORDS = new Set(
  (
    'a an the i id im ive me my mine we us our you your it its is are was be been am do does did can ' +
    'could would will should shall to for of in on at by with from about and or but so if that thats ' +
    'this these those what whats when where which who how there here hi hello hey um uh er oh ok okay ' +
    'like want wanna need please just some any get got have has had let lets know'
  ).split(' '),
);

/** Weight of a token in example overlap. */
export function tokenWeight(token: string): number {
  return STOPWORDS.has(token) ? 0.2 : 1;
}

function coverage(from: readonly string[], against: readonly string[], threshold: number): number {
  let total = 0;
  let hit = 0;
  for (const t of from) {
    const w = tokenWeight(t);
    total += w;
    let best = 0;
    for (const o of against) best = Math.max(best, tokenSimilarity(t, o));
    if (best >= threshold) hit += w * best;
  }
  return total === 0 ? 0 : hit / total;
}

/**
 * Similarity of an utterance to an example phrase, 0..1: weighted token-set F1 (recall over the
 * example's words, precision over the utterance's), tokens equal when fuzzily similar, the
 * utterance's split words merged against the example's vocabulary first.
 */
export function exampleSimilarity(utterance: string, example: string, options: FuzzyOptions = {}): number {
  const threshold = options.tokenThreshold ?? fuzzyDefaults.tokenThreshold;
  const ex = tokenize(example);
  const ut = mergeTokens(tokenize(utterance), ex, threshold);
  if (ex.length === 0 || ut.length === 0) return 0;
  const recall = coverage(ex, ut, threshold);
  const precision = coverage(ut, ex, threshold);
  return recall + precision === 0 ? 0 : (2 * recall * precision) / (recall + precision);
}

const patternCache = new Map<string, RegExp | null>();

/** Compiled case-insensitive pattern; null when the source is not a valid regex. */
export function compilePattern(source: string): RegExp | null {
  let re = patternCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source, 'i');
    } catch {
      re = null;
    }
    patternCache.set(source, re);
  }
  return re;
}

/**
 * How well an utterance fits an intent, 0..1.
 * - A regex pattern hit (against the normalised or the raw text) scores 1.
 * - Keyword hits: the best hit maps its similarity 0.8..1 to 0.6..0.8, each further distinct
 *   keyword adds 0.05; the example score then adds a fifth of itself on top.
 * - Without keyword hits the best example similarity counts alone, scaled down by
 *   `missingKeywordFactor` when the intent has keywords (see FuzzyOptions).
 */
export function scoreIntent(utterance: string, intent: ScorableIntent, options: FuzzyOptions = {}): number {
  const threshold = options.tokenThreshold ?? fuzzyDefaults.tokenThreshold;
  const factor = options.missingKeywordFactor ?? fuzzyDefaults.missingKeywordFactor;
  const norm = normalise(utterance);
  if (norm === '') return 0;
  for (const p of intent.patterns ?? []) {
    const re = compilePattern(p);
    if (re && (re.test(norm) || re.test(utterance))) return 1;
  }
  const tokens = norm.split(' ');
  const hits: number[] = [];
  for (const k of intent.keywords ?? []) {
    const sim = phraseSimilarity(k, tokens);
    if (sim >= threshold) hits.push(sim);
  }
  let ex = 0;
  for (const e of intent.examples ?? []) ex = Math.max(ex, exampleSimilarity(norm, e, options));
  if (hits.length === 0) return (intent.keywords?.length ?? 0) > 0 ? ex * factor : ex;
  const best = Math.max(...hits);
  const kw = Math.min(0.95, 0.6 + (best - threshold) * (0.2 / (1 - threshold || 1)) + 0.05 * (hits.length - 1));
  return Math.min(1, Math.max(ex, kw + 0.2 * ex));
}

/** The winning intent of an utterance. */
export interface IntentMatch<I extends ScorableIntent> {
  readonly intent: I;
  readonly score: number;
  readonly scope: 'state' | 'global';
}

/**
 * Best intent scoring at least `threshold`; state intents win ties with global ones, earlier
 * declarations win ties within a scope. Undefined when nothing reaches the threshold.
 */
export function matchIntent<I extends ScorableIntent>(
  utterance: string,
  stateIntents: readonly I[],
  globalIntents: readonly I[],
  threshold: number,
  options: FuzzyOptions = {},
): IntentMatch<I> | undefined {
  let best: IntentMatch<I> | undefined;
  const consider = (intents: readonly I[], scope: 'state' | 'global'): void => {
    for (const intent of intents) {
      const score = scoreIntent(utterance, intent, options);
      // Strictly greater: the first candidate (state before global, declaration order) keeps ties.
      if (score >= threshold && (best === undefined || score > best.score + 1e-9)) best = { intent, score, scope };
    }
  };
  consider(stateIntents, 'state');
  consider(globalIntents, 'global');
  return best;
}
