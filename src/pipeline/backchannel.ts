/**
 * Backchannels: the "yeah", "uh-huh", "right" a listener says while someone else talks. Said over
 * the agent they are encouragement, not an interruption.
 */
function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9\s'-]/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

/**
 * True when `text` is nothing but backchannels: one of `list` as a whole, or up to three words that
 * are each a one-word entry of `list` ("yeah okay", "uh-huh right").
 */
export function isBackchannel(text: string, list: readonly string[]): boolean {
  const said = words(text);
  if (said.length === 0) return false;
  const phrases = new Set(list.map((p) => words(p).join(' ')));
  if (phrases.has(said.join(' '))) return true;
  return said.length <= 3 && said.every((w) => phrases.has(w));
}

/**
 * How many words of `text` are more than backchannels: what is left after taking out every
 * backchannel phrase of `list` (longest first, whole words). "yeah okay" → 0, "okay wait" → 1,
 * "uh huh no I meant Tuesday" → 4.
 */
export function wordsBeyondBackchannels(text: string, list: readonly string[]): number {
  const said = words(text);
  const phrases = list.map(words).filter((p) => p.length > 0).sort((a, b) => b.length - a.length);
  let count = 0;
  for (let i = 0; i < said.length; ) {
    const match = phrases.find((p) => p.every((w, k) => said[i + k] === w));
    if (match) i += match.length;
    else {
      count++;
      i++;
    }
  }
  return count;
}

/**
 * The words of a partial transcript taken while the caller is still talking that are settled: all
 * but the last, which is the recogniser's guess at a word still being spoken (pocketsphinx first
 * hears the onset of "okay" as "the").
 */
export function settledWords(partial: string): string {
  const all = partial.trim().split(/\s+/);
  return all.slice(0, -1).join(' ');
}

/** The words of `planned` after the first `heard` words: where a reply picks up after an interruption. */
export function remainderAfter(planned: string, heard: string): string {
  const all = planned.split(/\s+/).filter((w) => w.length > 0);
  const done = heard.split(/\s+/).filter((w) => w.length > 0).length;
  return all.slice(done).join(' ');
}

/**
 * Words that carry no content of their own: articles, prepositions, pronouns, auxiliaries, conjunctions.
 * Every reply is full of them, so a caller's sentence shares them with the agent's by chance ("do you
 * have parking", misheard over the echo as "in the parking", shares "in the" with "… ten thirty in the
 * lobby restaurant"). Negations and question words are not here: they carry the caller's meaning.
 */
const FUNCTION_WORDS = new Set(
  (
    'a an the this that these those ' +
    'in on at to of for from by with about into onto over under up out off as ' +
    'and or but so if then than ' +
    "i you he she it we they me him her us them my your his its our their it's i'm you're we're " +
    'is are was were be been am do does did have has had will would can could shall should may might ' +
    'there here'
  ).split(' '),
);

/**
 * True when what "interrupted" the agent is the agent's own words coming back (speakerphone echo
 * the gate let through): at least two words, most of them words of the reply being spoken — and, when
 * the caller's words hold any content words, most of those too (function words alone match any reply).
 */
export function isEchoOf(heardFromCaller: string, agentText: string): boolean {
  const said = words(heardFromCaller);
  if (said.length < 2) return false;
  const agent = new Set(words(agentText));
  if (sharedShare(said, agent) < 0.6) return false;
  const content = said.filter((w) => !FUNCTION_WORDS.has(w));
  return content.length === 0 || sharedShare(content, agent) >= 0.6;
}

/** The share of `said` that are words of `agent`. */
function sharedShare(said: readonly string[], agent: ReadonlySet<string>): number {
  return said.filter((w) => agent.has(w)).length / said.length;
}
