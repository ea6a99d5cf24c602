/**
 * Word error rate for ASR tests and benchmarks: (substitutions + deletions + insertions) / reference words,
 * after normalising both sides (lowercase, punctuation dropped except intra-word apostrophes).
 * An empty reference counts as one word, so any hypothesis words against it give a rate > 0.
 */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
}

export function wordErrorRate(reference: string, hypothesis: string): number {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  return editDistance(ref, hyp) / Math.max(1, ref.length);
}

/** Levenshtein distance over words, one rolling row: O(ref × hyp) time, O(hyp) space. */
function editDistance(ref: readonly string[], hyp: readonly string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const row = [i];
    for (let j = 1; j <= hyp.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      row.push(Math.min(sub, (prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1));
    }
    prev = row;
  }
  return prev[hyp.length] ?? 0;
}
