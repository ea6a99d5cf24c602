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
 * True when what "interrupted" the agent is the agent's own words coming back (speakerphone echo
 * the gate let through): at least two words, most of them words of the reply being spoken.
 */
export function isEchoOf(heardFromCaller: string, agentText: string): boolean {
  const said = words(heardFromCaller);
  if (said.length < 2) return false;
  const agent = new Set(words(agentText));
  const shared = said.filter((w) => agent.has(w)).length;
  return shared / said.length >= 0.6;
}
