/**
 * Splits streaming LLM text into speakable chunks so TTS can start on the first sentence while
 * the model is still writing the rest. A chunk ends at sentence punctuation followed by
 * whitespace; a run-on clause is cut at a comma once it is long, so first audio never waits for
 * a 300-character sentence.
 */
export interface SentenceSplitterOptions {
  /** Do not end a chunk before this many characters ("Mr. Smith", "3.5"). */
  minChars: number;
  /** Past this many characters, cut at the next comma/semicolon/colon. */
  softMaxChars: number;
}

export const sentenceSplitterDefaults = { minChars: 12, softMaxChars: 140 } as const satisfies SentenceSplitterOptions;

const ABBREVIATIONS = /\b(mr|mrs|ms|dr|st|no|vs|etc|approx|e\.g|i\.e)\.$/i;

export class SentenceSplitter {
  private pending = '';
  private readonly o: SentenceSplitterOptions;

  constructor(options: Partial<SentenceSplitterOptions> = {}) {
    this.o = { ...sentenceSplitterDefaults, ...options };
  }

  /** Adds text; returns the chunks completed by it. */
  push(text: string): string[] {
    this.pending += text;
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < this.pending.length; i++) {
      const ch = this.pending[i];
      const next = this.pending[i + 1];
      const len = i + 1 - start;
      const atBoundary = next !== undefined && /\s/.test(next);
      if (!atBoundary) continue;
      const isSentenceEnd = ch === '.' || ch === '!' || ch === '?';
      const isClauseEnd = ch === ',' || ch === ';' || ch === ':';
      const candidate = this.pending.slice(start, i + 1);
      if (isSentenceEnd && len >= this.o.minChars && !ABBREVIATIONS.test(candidate)) {
        out.push(candidate.trim());
        start = i + 1;
      } else if (isClauseEnd && len >= this.o.softMaxChars) {
        out.push(candidate.trim());
        start = i + 1;
      }
    }
    this.pending = this.pending.slice(start);
    return out.filter((s) => s.length > 0);
  }

  /** Returns whatever is left (end of the LLM stream). */
  flush(): string[] {
    const rest = this.pending.trim();
    this.pending = '';
    return rest.length > 0 ? [rest] : [];
  }
}
