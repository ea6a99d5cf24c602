/**
 * Voice-to-voice latency of whole simulated phone calls over the real Twilio HTTP + WebSocket path,
 * on the embedded providers (pocketsphinx, flow, espeak), for 1 and 20 concurrent calls.
 * Prints JSON: medians and tails of voice-to-voice, Parley's own overhead (time in Parley excluding
 * endpointing silence and provider time), and the latency the caller heard.
 * Calls arrive spread over ARRIVAL_SPREAD_MS (real traffic is not synchronised), and the server
 * starts with one warm pocketsphinx decoder per concurrent call (PARLEY_STT_WARM_DECODERS), as a
 * deployment sized for that load would. Callers run in the same process as the server.
 * Usage: node dist/bench/voice-to-voice.js [--calls 1,20]
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeSimulatedCall } from '../src/cli/simulated-caller.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server/server.js';
import { parseTenantDocument } from '../src/tenants/loader.js';
import { answerLatencies, type Latency, measureProcess, stage, summary } from './stats.js';

const ADMIN_KEY = 'bench-key';
const NUMBER = '+15550100000';
/** Calls of one scenario start evenly spread over this window. */
const ARRIVAL_SPREAD_MS = 8_000;

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--calls');
  const levels = (arg > 0 ? (process.argv[arg + 1] ?? '1,20') : '1,20').split(',').map(Number);
  const tenantFile = new URL('../../tenants/hotel.yaml', import.meta.url);
  const hotel = parseTenantDocument('hotel.yaml', await readFile(tenantFile, 'utf8'), {});
  // A short greeting keeps the benchmark about turns, not the welcome speech.
  const tenant = { ...hotel, agents: { default: { ...(hotel.agents.default as NonNullable<(typeof hotel.agents)[string]>), greeting: 'Seaview Hotel, how can I help?' } } };
  const scenarios = [];
  for (const calls of levels) {
    // A fresh server per scenario, with one warm decoder per concurrent call: a process holding
    // more decoders than it needs is bigger, and spawning TTS processes from it is slower.
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
    const server = await startServer({
      config: loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, adminKey: ADMIN_KEY, sttWarmDecoders: calls, sttWorkers: process.env.PARLEY_STT_WORKERS ? Number(process.env.PARLEY_STT_WORKERS) : undefined }),
      tenants: [tenant],
      logger: createLogger({ level: 'warn' }),
    });
    try {
      await new Promise((r) => setTimeout(r, 400 * calls)); // let the warm decoders load
      const { result: results, cost } = await measureProcess(() =>
        Promise.all(
          Array.from({ length: calls }, async (_, i) => {
            await new Promise((r) => setTimeout(r, calls > 1 ? (i * ARRIVAL_SPREAD_MS) / calls : 0));
            return placeSimulatedCall({
              baseUrl: server.url,
              to: NUMBER,
              from: `+1555555${String(1000 + i)}`,
              steps: [{ say: 'what time is breakfast' }, { say: 'when does the pool open' }, { say: 'goodbye' }],
            });
          }),
        ),
      );
      const latencies = await answerLatencies(server.url, ADMIN_KEY, results.map((r) => r.callSid));
      const pick = (k: keyof Latency): number[] => stage(latencies, k);
      scenarios.push({
        concurrentCalls: calls,
        ...cost,
        turns: latencies.length,
        voiceToVoiceMs: summary(pick('voiceToVoiceMs')),
        parleyOverheadMs: summary(pick('parleyOverheadMs')),
        endpointingMs: summary(pick('endpointingMs')),
        sttFinalMs: summary(pick('sttFinalMs')),
        agentFirstTokenMs: summary(pick('llmFirstTokenMs')),
        ttsFirstAudioMs: summary(pick('ttsFirstAudioMs')),
        greetingFirstAudioMs: summary(await greetingFirstAudio(server.url, results.map((r) => r.callSid))),
        heardByCallerMs: summary(results.flatMap((r) => r.utterances.map((u) => u.heardLatencyMs)).filter((v): v is number => v !== undefined)),
      });
    } finally {
      await server.close();
    }
  }
  console.log(
    JSON.stringify(
      {
        bench: 'voice-to-voice',
        providers: { stt: 'pocketsphinx', llm: 'flow', tts: 'espeak' },
        endpointingSilenceMs: tenant.agents.default.endpointing.silenceMs,
        arrivalSpreadMs: ARRIVAL_SPREAD_MS,
        note: 'voiceToVoice = caller stops speaking → first agent audio on the wire; parleyOverhead = voiceToVoice − endpointing − STT − agent − TTS',
        scenarios,
      },
      null,
      2,
    ),
  );
}

/** Stream start → the greeting's first audio handed to the transport, per call (from the stored record). */
async function greetingFirstAudio(baseUrl: string, callSids: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const sid of callSids) {
    const res = await fetch(`${baseUrl}/v1/calls/${sid}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const call = (await res.json()) as { startedAt: string; turns: { role: string; startedAt: string }[] };
    const greeting = call.turns.find((t) => t.role === 'agent');
    if (greeting) out.push(Date.parse(greeting.startedAt) - Date.parse(call.startedAt));
  }
  return out;
}

await main();
