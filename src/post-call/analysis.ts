/**
 * Post-call analysis with the agent's own language model: a short summary and, when the agent
 * defines `analysis.extractionSchema`, structured data pulled from the transcript.
 *
 * Constraints:
 * - Needs a real model: an agent whose chain is only the scripted `flow` provider is skipped.
 * - Bounded: both requests run at once under one deadline (default 20 s), so a slow model delays
 *   the call's webhook by at most that much; what is late is dropped and reported in `errors`.
 * - Extraction is never trusted blindly: the reply must parse as a JSON object (code fences and
 *   surrounding prose tolerated) and validate against the schema, else it is omitted.
 */
import { z } from 'zod';
import type { LlmProvider } from '../providers/types.js';
import type { AgentConfig } from '../tenants/schema.js';
import { meterLlm } from './metered-llm.js';
import { CallUsageMeter } from './usage-meter.js';

export const ANALYSIS_TIMEOUT_MS = 20_000;
/** A summary longer than this is cut (a model ignoring "2–3 sentences"). */
const MAX_SUMMARY_CHARS = 2_000;

export interface TranscriptLine {
  readonly role: 'user' | 'agent';
  readonly text: string;
}

export interface AnalysisInput {
  readonly transcript: readonly TranscriptLine[];
  readonly agent: AgentConfig;
  readonly llm: LlmProvider;
  readonly signal: AbortSignal;
  /** Default ANALYSIS_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

export interface AnalysisResult {
  summary?: string;
  extraction?: Record<string, unknown>;
  /** Why a requested part is missing (model failure, deadline, invalid JSON), for the log. */
  errors: string[];
  /** Tokens the analysis used (estimated when the provider did not report them). */
  usage: { inputTokens: number; outputTokens: number; estimated: boolean };
  /** Set when nothing was asked of the model, and why. */
  skipped?: 'no_llm' | 'disabled' | 'empty_transcript';
}

/** True when the agent's chain has a provider other than the scripted `flow` one. */
export function hasRealLlm(agent: AgentConfig): boolean {
  return agent.llm.some((p) => p.provider !== 'flow');
}

export function formatTranscript(transcript: readonly TranscriptLine[]): string {
  return transcript
    .filter((l) => l.text.trim() !== '')
    .map((l) => `${l.role === 'user' ? 'Caller' : 'Agent'}: ${l.text.trim()}`)
    .join('\n');
}

const SUMMARY_PROMPT =
  'You summarize phone calls handled by a voice agent. Write 2 to 3 sentences: who called, what they wanted, and how the call ended ' +
  '(what was done or agreed, and any follow-up). Plain text only: no heading, no bullet points, no preamble.';

function extractionPrompt(schema: Record<string, unknown>): string {
  return (
    'You extract structured data from phone call transcripts. Reply with only a JSON object that validates against the JSON Schema below. ' +
    'Use only what the transcript says; omit a property the call does not establish rather than guessing.\n\nJSON Schema:\n' +
    JSON.stringify(schema, null, 2)
  );
}

const NO_USAGE = { inputTokens: 0, outputTokens: 0, estimated: false };

export async function analyzeCall(input: AnalysisInput): Promise<AnalysisResult> {
  const { agent } = input;
  const schema = agent.analysis.extractionSchema;
  if (!hasRealLlm(agent)) return { errors: [], usage: NO_USAGE, skipped: 'no_llm' };
  if (!agent.analysis.summary && schema === undefined) return { errors: [], usage: NO_USAGE, skipped: 'disabled' };
  const transcript = formatTranscript(input.transcript);
  if (transcript === '') return { errors: [], usage: NO_USAGE, skipped: 'empty_transcript' };

  const timeoutMs = input.timeoutMs ?? ANALYSIS_TIMEOUT_MS;
  const signal = AbortSignal.any([input.signal, AbortSignal.timeout(timeoutMs)]);
  const meter = new CallUsageMeter();
  const llm = meterLlm(input.llm, meter);
  const result: AnalysisResult = { errors: [], usage: NO_USAGE };

  /** The model's whole text reply; throws when it fails or the deadline passes. */
  const ask = async (system: string): Promise<string> => {
    let text = '';
    const messages = [
      { role: 'system' as const, content: system },
      { role: 'user' as const, content: `Transcript:\n${transcript}` },
    ];
    for await (const d of llm.complete({ messages }, { signal })) if (d.kind === 'text') text += d.text;
    // Providers return quietly on abort: a reply cut by the deadline must not pass for a whole one.
    if (signal.aborted) throw new Error(input.signal.aborted ? 'aborted' : `no complete answer within ${timeoutMs} ms`);
    return text;
  };
  const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));

  await Promise.all([
    agent.analysis.summary
      ? ask(SUMMARY_PROMPT).then(
          (text) => {
            const summary = text.replace(/\s+/g, ' ').trim().slice(0, MAX_SUMMARY_CHARS);
            if (summary === '') result.errors.push('summary: the model answered with no text');
            else result.summary = summary;
          },
          (err: unknown) => result.errors.push(`summary: ${reason(err)}`),
        )
      : undefined,
    schema !== undefined
      ? ask(extractionPrompt(schema)).then(
          (text) => {
            const r = validateExtraction(text, schema);
            if (r.ok) result.extraction = r.value;
            else result.errors.push(`extraction: ${r.error}`);
          },
          (err: unknown) => result.errors.push(`extraction: ${reason(err)}`),
        )
      : undefined,
  ]);
  const u = meter.snapshot(0);
  result.usage = { inputTokens: u.llmInputTokens, outputTokens: u.llmOutputTokens, estimated: u.llmTokensEstimated };
  return result;
}

/**
 * The JSON object in a model's reply: the content of a ``` fence if there is one, else the text
 * from the first `{` to the last `}`. Undefined when there is no parsable object.
 */
export function extractJsonObject(text: string): Record<string, unknown> | undefined {
  const fenced = /```(?:json|JSON)?\s*\n?([\s\S]*?)```/.exec(text)?.[1];
  for (const candidate of [fenced, text]) {
    if (candidate === undefined) continue;
    const start = candidate.indexOf('{');
    const end = candidate.lastIndexOf('}');
    if (start < 0 || end <= start) continue;
    try {
      const v: unknown = JSON.parse(candidate.slice(start, end + 1));
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/**
 * Parses and validates an extraction reply against the agent's JSON Schema. A `null` for a
 * property the schema does not allow to be null is read as "not mentioned" and dropped.
 */
export function validateExtraction(text: string, schema: Record<string, unknown>): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  const obj = extractJsonObject(text);
  if (obj === undefined) return { ok: false, error: 'the model did not answer with a JSON object' };
  let validator: z.ZodType;
  try {
    validator = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    return { ok: false, error: `analysis.extractionSchema cannot be used: ${err instanceof Error ? err.message : String(err)}` };
  }
  const first = validator.safeParse(obj);
  if (first.success) return { ok: true, value: first.data as Record<string, unknown> };
  const withoutNulls = Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null));
  const second = validator.safeParse(withoutNulls);
  if (second.success) return { ok: true, value: second.data as Record<string, unknown> };
  const issues = first.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  return { ok: false, error: `the JSON does not match the schema (${issues.join('; ')})` };
}
