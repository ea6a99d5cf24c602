/**
 * `parley simulate`: runs scenarios (src/cli/scenario.ts) against a Parley server — N simulated
 * callers at once over the real Twilio webhook + media stream path, repeated — and reports what the
 * callers experienced (answers, cut-offs, false interruptions, latency percentiles as heard) and,
 * given an admin key, what the server measured (voice-to-voice, Parley's overhead, barge-in events).
 * Each scenario's `expect` assertions decide whether it passed.
 */
import type { LatencyBounds, Scenario, ScenarioExpect } from './scenario.js';
import { type ClearReceived, placeSimulatedCall, type SimulatedCallResult, type UtteranceResult } from './simulated-caller.js';

export interface SimulateOptions {
  /** Where the Parley server listens, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  /** Reads each call's record (server latencies, events, transcript) through GET /v1/calls/{id}. */
  readonly adminKey?: string;
  /** Overrides the scenario's `calls` / `repeat`. */
  readonly calls?: number;
  readonly repeat?: number;
  /** When the tenant checks Twilio signatures. */
  readonly authToken?: string;
  readonly publicUrl?: string;
  /** Progress: one line per finished call. */
  readonly onProgress?: (line: string) => void;
  /** Every simulated caller's own log lines (prefixed with the call's number when several run). */
  readonly onCallLog?: (line: string) => void;
}

/** Nearest-rank percentiles of some ms figures. */
export interface Percentiles {
  n: number;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export interface ServerLatency {
  voiceToVoiceMs: number | null;
  parleyOverheadMs: number | null;
  endpointingMs: number | null;
  sttFinalMs: number | null;
  llmFirstTokenMs: number | null;
  ttsFirstAudioMs: number | null;
}

/** What the server stored for one call (GET /v1/calls/{id}). */
interface ApiCallRecord {
  status: string;
  endReason: string | null;
  turns: { role: 'user' | 'agent'; text: string; interrupted: boolean; latency: ServerLatency }[];
  events: { at: string; type: string; data: Record<string, unknown> }[];
}

export interface CallReport {
  /** 1-based, across rounds. */
  readonly index: number;
  readonly round: number;
  readonly callSid: string | null;
  /** Why the call could not be placed or finished. */
  readonly error: string | null;
  readonly timedOut: boolean;
  readonly durationMs: number | null;
  readonly closedBy: 'caller' | 'server' | null;
  readonly utterances: UtteranceResult[];
  readonly clears: ClearReceived[];
  readonly cutOffs: number;
  readonly falseInterruptions: number;
  /** From the server's record (null without an admin key or if it could not be read). */
  readonly server: {
    readonly status: string;
    readonly endReason: string | null;
    readonly transcript: { role: 'user' | 'agent'; text: string; interrupted: boolean }[];
    /** Answered agent turns' latency breakdowns. */
    readonly latencies: ServerLatency[];
    readonly events: Record<string, number>;
  } | null;
}

export interface ExpectationResult {
  readonly name: string;
  readonly ok: boolean;
  /** e.g. "≤ 0", "p95 ≤ 2500 ms". */
  readonly expected: string;
  readonly actual: string;
}

export interface ScenarioReport {
  readonly scenario: string;
  readonly file: string;
  readonly baseUrl: string;
  readonly calls: { planned: number; concurrent: number; rounds: number; completed: number; failed: number; timedOut: number };
  readonly utterances: {
    spoken: number;
    answered: number;
    unanswered: number;
    /** Spoken over the agent on purpose (bargeInAfterMs). */
    bargeIns: number;
    /** Of those, how many made the agent stop. */
    bargeInsHonoured: number;
    /** Acknowledgements spoken over the agent (backchannelAfterMs), which expect no answer. */
    backchannels: number;
    /** Of those, how many made the agent stop (it should not). */
    backchannelsStoppedAgent: number;
    cutOffs: number;
  };
  /** The agent stopped (clear) although the caller was silent: echo, noise, or nothing. */
  readonly falseInterruptions: number;
  readonly clears: number;
  readonly latency: {
    /** End of the caller's speech → first agent audio it heard. */
    heardMs: Percentiles;
    /** Backchannels that stopped the agent: end of the caller's speech to the agent heard again. */
    backchannelResumeMs: Percentiles;
    /** Server-side (with an admin key). */
    voiceToVoiceMs: Percentiles | null;
    parleyOverheadMs: Percentiles | null;
    endpointingMs: Percentiles | null;
    sttFinalMs: Percentiles | null;
    llmFirstTokenMs: Percentiles | null;
    ttsFirstAudioMs: Percentiles | null;
  };
  /** Server-side totals across calls (null without records). */
  readonly server: { events: Record<string, number>; bargeInEvents: number; endReasons: Record<string, number>; interruptedAgentTurns: number } | null;
  readonly expectations: ExpectationResult[];
  readonly passed: boolean;
  readonly callResults: CallReport[];
}

export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? null;
}

export function percentiles(values: readonly number[]): Percentiles {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length > 0 ? Math.max(...values) : null,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The stored record once the call has ended (the server finishes writing it just after the hang-up). */
async function fetchRecord(baseUrl: string, adminKey: string, callSid: string): Promise<ApiCallRecord | undefined> {
  let last: ApiCallRecord | undefined;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${baseUrl}/v1/calls/${encodeURIComponent(callSid)}`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (res.ok) {
      last = (await res.json()) as ApiCallRecord;
      if (last.status !== 'in_progress') return last;
    } else if (res.status === 401 || res.status === 403) {
      throw new Error(`GET /v1/calls answered HTTP ${res.status}: check the admin key`);
    } else {
      await res.body?.cancel();
    }
    await sleep(100);
  }
  return last;
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function serverPart(record: ApiCallRecord): NonNullable<CallReport['server']> {
  return {
    status: record.status,
    endReason: record.endReason,
    transcript: record.turns.map((t) => ({ role: t.role, text: t.text, interrupted: t.interrupted })),
    latencies: record.turns.filter((t) => t.role === 'agent' && typeof t.latency?.voiceToVoiceMs === 'number').map((t) => t.latency),
    events: countBy(record.events.map((e) => e.type)),
  };
}

/** Runs one scenario: `repeat` rounds of `calls` concurrent calls, then checks its expectations. */
export async function runScenario(scenario: Scenario, o: SimulateOptions): Promise<ScenarioReport> {
  const concurrent = o.calls ?? scenario.calls;
  const rounds = o.repeat ?? scenario.repeat;
  const planned = concurrent * rounds;
  const progress = o.onProgress ?? (() => {});
  const results: CallReport[] = [];
  for (let round = 1; round <= rounds; round++) {
    const roundResults = await Promise.all(
      Array.from({ length: concurrent }, async (_, i): Promise<CallReport> => {
        const index = (round - 1) * concurrent + i + 1;
        if (concurrent > 1 && scenario.arrivalSpreadMs > 0) await sleep((i * scenario.arrivalSpreadMs) / concurrent);
        const prefix = planned > 1 ? `[${index}] ` : '';
        let result: SimulatedCallResult;
        try {
          result = await placeSimulatedCall({
            baseUrl: o.baseUrl,
            to: scenario.to,
            // Distinct callers by default: per-caller state (history, quotas) stays per call.
            from: scenario.from ?? `+1555555${String(1000 + (index % 9000)).padStart(4, '0')}`,
            steps: scenario.steps,
            authToken: o.authToken,
            publicUrl: o.publicUrl,
            quietMs: scenario.caller.quietMs,
            replyTimeoutMs: scenario.caller.replyTimeoutMs,
            noiseDb: scenario.caller.noiseDb,
            echo: scenario.caller.echo,
            maxCallMs: scenario.timeoutMs,
            onLog: o.onCallLog ? (line) => o.onCallLog?.(prefix + line) : undefined,
          });
        } catch (err) {
          const report: CallReport = {
            index, round, callSid: null, error: (err as Error).message, timedOut: false, durationMs: null, closedBy: null,
            utterances: [], clears: [], cutOffs: 0, falseInterruptions: 0, server: null,
          };
          progress(`call ${index}/${planned} failed: ${report.error}`);
          return report;
        }
        let server: CallReport['server'] = null;
        let error: string | null = result.timedOut ? `still going after ${scenario.timeoutMs} ms (timeoutMs): hung up` : null;
        if (o.adminKey) {
          try {
            const record = await fetchRecord(o.baseUrl, o.adminKey, result.callSid);
            if (record) server = serverPart(record);
          } catch (err) {
            progress(`call ${index}: could not read the call record: ${(err as Error).message}`);
          }
        }
        const report: CallReport = {
          index,
          round,
          callSid: result.callSid,
          error,
          timedOut: result.timedOut,
          durationMs: result.durationMs,
          closedBy: result.closedBy,
          utterances: result.utterances,
          clears: result.clears,
          cutOffs: result.cutOffs,
          falseInterruptions: result.falseInterruptions,
          server,
        };
        progress(callLine(report, planned));
        return report;
      }),
    );
    results.push(...roundResults);
  }
  return summarise(scenario, o, { concurrent, rounds, planned }, results);
}

function callLine(r: CallReport, planned: number): string {
  const expectingAnswers = r.utterances.filter((u) => !u.backchannel);
  const answered = expectingAnswers.filter((u) => u.heardLatencyMs !== undefined).length;
  const parts = [
    `call ${r.index}/${planned} ${r.callSid ?? ''}`.trimEnd() + `: ${r.error ? 'FAILED' : 'done'} in ${((r.durationMs ?? 0) / 1000).toFixed(1)} s`,
    `${answered}/${expectingAnswers.length} answered`,
    `${r.cutOffs} cut-off${r.cutOffs === 1 ? '' : 's'}`,
    `${r.falseInterruptions} false interruption${r.falseInterruptions === 1 ? '' : 's'}`,
  ];
  if (r.server?.endReason) parts.push(`ended: ${r.server.endReason}`);
  if (r.error) parts.push(r.error);
  return parts.join(', ');
}

function summarise(scenario: Scenario, o: SimulateOptions, shape: { concurrent: number; rounds: number; planned: number }, calls: CallReport[]): ScenarioReport {
  const utterances = calls.flatMap((c) => c.utterances);
  // Backchannels expect no answer.
  const expectingAnswers = utterances.filter((u) => !u.backchannel);
  const answered = expectingAnswers.filter((u) => u.heardLatencyMs !== undefined);
  const bargeIns = utterances.filter((u) => u.bargeIn);
  const backchannels = utterances.filter((u) => u.backchannel);
  const haveRecords = o.adminKey !== undefined && calls.some((c) => c.server !== null);
  const serverLatencies = calls.flatMap((c) => c.server?.latencies ?? []);
  const stage = (k: keyof ServerLatency): Percentiles | null =>
    haveRecords ? percentiles(serverLatencies.map((l) => l[k]).filter((v): v is number => typeof v === 'number')) : null;
  const events: Record<string, number> = {};
  for (const c of calls) for (const [k, v] of Object.entries(c.server?.events ?? {})) events[k] = (events[k] ?? 0) + v;
  const report: Omit<ScenarioReport, 'expectations' | 'passed'> = {
    scenario: scenario.name,
    file: scenario.file,
    baseUrl: o.baseUrl,
    calls: {
      planned: shape.planned,
      concurrent: shape.concurrent,
      rounds: shape.rounds,
      completed: calls.filter((c) => c.error === null).length,
      failed: calls.filter((c) => c.error !== null).length,
      timedOut: calls.filter((c) => c.timedOut).length,
    },
    utterances: {
      spoken: utterances.length,
      answered: answered.length,
      unanswered: expectingAnswers.length - answered.length,
      bargeIns: bargeIns.length,
      bargeInsHonoured: bargeIns.filter((u) => u.agentStopped).length,
      backchannels: backchannels.length,
      backchannelsStoppedAgent: backchannels.filter((u) => u.agentStopped).length,
      cutOffs: utterances.filter((u) => u.cutOff).length,
    },
    falseInterruptions: calls.reduce((n, c) => n + c.falseInterruptions, 0),
    clears: calls.reduce((n, c) => n + c.clears.length, 0),
    latency: {
      heardMs: percentiles(answered.map((u) => u.heardLatencyMs as number)),
      backchannelResumeMs: percentiles(backchannels.flatMap((u) => (u.resumedAfterMs === undefined ? [] : [u.resumedAfterMs]))),
      voiceToVoiceMs: stage('voiceToVoiceMs'),
      parleyOverheadMs: stage('parleyOverheadMs'),
      endpointingMs: stage('endpointingMs'),
      sttFinalMs: stage('sttFinalMs'),
      llmFirstTokenMs: stage('llmFirstTokenMs'),
      ttsFirstAudioMs: stage('ttsFirstAudioMs'),
    },
    server: haveRecords
      ? {
          events,
          bargeInEvents: events.barge_in ?? 0,
          endReasons: countBy(calls.map((c) => c.server?.endReason ?? (c.server ? 'open' : 'unknown'))),
          interruptedAgentTurns: calls.reduce((n, c) => n + (c.server?.transcript.filter((t) => t.role === 'agent' && t.interrupted).length ?? 0), 0),
        }
      : null,
    callResults: calls,
  };
  const expectations = checkExpectations(scenario.expect, report);
  return { ...report, expectations, passed: expectations.every((e) => e.ok) };
}

const NEEDS_RECORDS = 'needs the call records: give --admin-key (or run without --url)';

function atMost(name: string, actual: number, max: number | undefined): ExpectationResult[] {
  if (max === undefined) return [];
  return [{ name, ok: actual <= max, expected: `≤ ${max}`, actual: String(actual) }];
}

function bounds(name: string, p: Percentiles | null, b: LatencyBounds | undefined): ExpectationResult[] {
  if (!b) return [];
  const out: ExpectationResult[] = [];
  for (const k of ['p50', 'p90', 'p95', 'p99', 'max'] as const) {
    const limit = b[k];
    if (limit === undefined) continue;
    const expected = `${k} ≤ ${limit} ms`;
    if (p === null) out.push({ name: `${name}.${k}`, ok: false, expected, actual: NEEDS_RECORDS });
    else if (p[k] === null) out.push({ name: `${name}.${k}`, ok: false, expected, actual: 'no measurements' });
    else out.push({ name: `${name}.${k}`, ok: (p[k] as number) <= limit, expected, actual: `${p[k]} ms` });
  }
  return out;
}

/** `/regex/flags` or a case-insensitive substring. */
function textMatcher(pattern: string): (text: string) => boolean {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (m) {
    const re = new RegExp(m[1] ?? '', m[2]);
    return (t) => re.test(t);
  }
  const needle = pattern.toLowerCase();
  return (t) => t.toLowerCase().includes(needle);
}

function checkExpectations(e: ScenarioExpect, r: Omit<ScenarioReport, 'expectations' | 'passed'>): ExpectationResult[] {
  const out: ExpectationResult[] = [
    ...atMost('maxFailedCalls', r.calls.failed, e.maxFailedCalls),
    ...atMost('maxUnanswered', r.utterances.unanswered, e.maxUnanswered),
    ...atMost('maxCutOffs', r.utterances.cutOffs, e.maxCutOffs),
    ...atMost('maxFalseInterruptions', r.falseInterruptions, e.maxFalseInterruptions),
    ...atMost('maxMissedBargeIns', r.utterances.bargeIns - r.utterances.bargeInsHonoured, e.maxMissedBargeIns),
    ...atMost('maxBackchannelInterruptions', r.utterances.backchannelsStoppedAgent, e.maxBackchannelInterruptions),
    ...bounds('heardLatencyMs', r.latency.heardMs, e.heardLatencyMs),
    ...bounds('backchannelResumeMs', r.latency.backchannelResumeMs, e.backchannelResumeMs),
    ...bounds('voiceToVoiceMs', r.latency.voiceToVoiceMs, e.voiceToVoiceMs),
    ...bounds('parleyOverheadMs', r.latency.parleyOverheadMs, e.parleyOverheadMs),
  ];
  const placed = r.callResults.filter((c) => c.callSid !== null);
  const records = placed.map((c) => c.server);
  const missing = records.some((s) => s === null) || placed.length === 0;
  if (e.endReason !== undefined) {
    const allowed = Array.isArray(e.endReason) ? e.endReason : [e.endReason];
    const expected = allowed.join(' or ');
    if (missing) out.push({ name: 'endReason', ok: false, expected, actual: NEEDS_RECORDS });
    else {
      const wrong = records.map((s) => s?.endReason ?? 'open').filter((reason) => !allowed.includes(reason));
      out.push({ name: 'endReason', ok: wrong.length === 0, expected, actual: wrong.length === 0 ? `all ${allowed.length === 1 ? allowed[0] : 'as expected'}` : Object.entries(countBy(wrong)).map(([k, v]) => `${v}× ${k}`).join(', ') });
    }
  }
  for (const pattern of e.agentSays ?? []) {
    const name = `agentSays ${JSON.stringify(pattern)}`;
    if (missing) {
      out.push({ name, ok: false, expected: 'in every call', actual: NEEDS_RECORDS });
      continue;
    }
    const match = textMatcher(pattern);
    const said = records.filter((s) => s?.transcript.some((t) => t.role === 'agent' && match(t.text))).length;
    out.push({ name, ok: said === records.length, expected: 'in every call', actual: `in ${said} of ${records.length}` });
  }
  return out;
}

function fmt(v: number | null): string {
  return v === null ? '–' : String(Math.round(v));
}

/** The report for people. */
export function formatReport(r: ScenarioReport): string {
  const lines: string[] = [];
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push(`scenario ${r.scenario} (${r.file}) against ${r.baseUrl}`);
  const c = r.calls;
  lines.push(
    `  calls                ${c.planned} (${c.concurrent} at once × ${plural(c.rounds, 'round')}): ${c.completed} completed, ${c.failed} failed${c.timedOut ? ` (${c.timedOut} timed out)` : ''}`,
  );
  const u = r.utterances;
  lines.push(`  utterances           ${u.spoken} spoken, ${u.answered} answered, ${u.unanswered} unanswered${u.backchannels > 0 ? ' (backchannels expect no answer)' : ''}`);
  if (u.bargeIns > 0) lines.push(`  barge-ins            ${u.bargeIns} deliberate, ${u.bargeInsHonoured} stopped the agent`);
  if (u.backchannels > 0) {
    const resumed = r.latency.backchannelResumeMs;
    const after = resumed.n > 0 ? `; heard again ${fmt(resumed.p50)} ms (p50) after the caller stopped in ${resumed.n}` : '';
    lines.push(`  backchannels         ${u.backchannels} spoken, ${u.backchannelsStoppedAgent} stopped the agent${after}`);
  }
  lines.push(`  cut-offs             ${u.cutOffs}   (agent talked over the caller before it finished)`);
  lines.push(`  false interruptions  ${r.falseInterruptions}   (agent stopped talking although the caller was silent)`);
  lines.push('');
  lines.push('  latency, ms               n     p50     p90     p95     p99     max');
  const row = (label: string, p: Percentiles | null): void => {
    if (!p) return;
    lines.push(`    ${label.padEnd(20)}${String(p.n).padStart(5)}${[p.p50, p.p90, p.p95, p.p99, p.max].map((v) => fmt(v).padStart(8)).join('')}`);
  };
  row('heard by caller', r.latency.heardMs);
  if (r.latency.backchannelResumeMs.n > 0) row('after backchannel', r.latency.backchannelResumeMs);
  row('voice-to-voice', r.latency.voiceToVoiceMs);
  row('  endpointing', r.latency.endpointingMs);
  row('  stt final', r.latency.sttFinalMs);
  row('  agent 1st token', r.latency.llmFirstTokenMs);
  row('  tts 1st audio', r.latency.ttsFirstAudioMs);
  row('  parley overhead', r.latency.parleyOverheadMs);
  if (r.server) {
    lines.push('');
    lines.push(`  server: ${plural(r.server.bargeInEvents, 'barge-in')}, ${plural(r.server.interruptedAgentTurns, 'interrupted agent turn')}`);
    lines.push(`    end reasons  ${Object.entries(r.server.endReasons).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const ev = Object.entries(r.server.events).filter(([k]) => !['call.started', 'call.ended'].includes(k));
    if (ev.length > 0) lines.push(`    events       ${ev.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  } else {
    lines.push('');
    lines.push('  (no server figures: give --admin-key to read voice-to-voice, overhead and events from the call records)');
  }
  const failedCalls = r.callResults.filter((x) => x.error);
  if (failedCalls.length > 0) {
    lines.push('');
    for (const f of failedCalls.slice(0, 5)) lines.push(`  call ${f.index} failed: ${f.error}`);
    if (failedCalls.length > 5) lines.push(`  … and ${failedCalls.length - 5} more`);
  }
  lines.push('');
  lines.push('  expect');
  for (const e of r.expectations) lines.push(`    ${e.ok ? '✓' : '✗'} ${e.name}: ${e.actual} (expected ${e.expected})`);
  lines.push('');
  lines.push(r.passed ? `PASS ${r.scenario}` : `FAIL ${r.scenario}`);
  return lines.join('\n');
}
