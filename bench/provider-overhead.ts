/**
 * Parley's overhead on top of cloud providers: whole simulated phone calls over the real Twilio
 * HTTP + WebSocket path, with Deepgram (STT), OpenAI (LLM) and ElevenLabs (TTS) replaced by the
 * test fakes answering at realistic latencies — STT final 150 ms after Finalize, LLM first token
 * 300 ms after the request, TTS first audio 150 ms after the first text — for 1 and 20 concurrent
 * calls (arrivals spread over ARRIVAL_SPREAD_MS), three caller lines per call.
 * Prints JSON only on stdout (logs go to stderr): per scenario the medians and tails of
 * voice-to-voice, Parley's overhead (voice-to-voice minus endpointing silence and provider stages,
 * see src/pipeline/turn-latency.ts), each provider stage, the latency the caller heard, event-loop
 * delay, CPU and RSS; and whether the overhead target (p50 ≤ 20 ms) was met in every scenario.
 * Usage: node dist/bench/provider-overhead.js [--calls 1,20]
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeSimulatedCall } from '../src/cli/simulated-caller.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startServer } from '../src/server/server.js';
import { parseTenantDocument } from '../src/tenants/loader.js';
import type { AgentConfig, TenantConfig } from '../src/tenants/schema.js';
import { startFakeDeepgram, type FakeDeepgramUtterance } from '../test/fakes/deepgram-server.js';
import { startFakeElevenLabs } from '../test/fakes/elevenlabs-server.js';
import { openAiChunk, startFakeOpenAi } from '../test/fakes/openai-server.js';
import { answerLatencies, type Latency, measureProcess, stage, summary } from './stats.js';

const ADMIN_KEY = 'bench-key';
const NUMBER = '+15550100000';
/** Calls of one scenario start evenly spread over this window. */
const ARRIVAL_SPREAD_MS = 5_000;
/** Realistic provider latencies the fakes answer at. */
const PROVIDER_LATENCY = { sttFinalMs: 150, llmFirstTokenMs: 300, ttsFirstAudioMs: 150 } as const;
const OVERHEAD_P50_TARGET_MS = 20;
const CALLER_LINES = ['what time is breakfast', 'when does the pool open', 'do you have parking'] as const;

/** The three fakes, answering at PROVIDER_LATENCY. */
async function startFakes(calls: number) {
  // The Deepgram fake counts utterances across all connections, so script plenty, cycling the lines.
  const utterances: FakeDeepgramUtterance[] = Array.from({ length: calls * CALLER_LINES.length * 4 + 16 }, (_, i) => ({
    finals: [CALLER_LINES[i % CALLER_LINES.length] as string],
  }));
  const deepgram = await startFakeDeepgram({ utterances, finalizeDelayMs: PROVIDER_LATENCY.sttFinalMs });
  const openai = await startFakeOpenAi({
    chunks: [
      openAiChunk({ role: 'assistant', content: '' }, null, PROVIDER_LATENCY.llmFirstTokenMs),
      openAiChunk({ content: 'Certainly.' }),
      openAiChunk({ content: ' Breakfast is from seven' }),
      openAiChunk({ content: ' to ten in the lobby.' }),
      openAiChunk({}, 'stop'),
    ],
  });
  const elevenlabs = await startFakeElevenLabs({ firstAudioDelayMs: PROVIDER_LATENCY.ttsFirstAudioMs });
  return {
    deepgram,
    openai,
    elevenlabs,
    async close(): Promise<void> {
      await Promise.all([deepgram.close(), openai.close(), elevenlabs.close()]);
    },
  };
}

function tenantFor(hotel: TenantConfig, fakes: Awaited<ReturnType<typeof startFakes>>): TenantConfig {
  return {
    ...hotel,
    agents: {
      default: {
      ...(hotel.agents.default as AgentConfig),
      // A short greeting keeps the benchmark about turns, not the welcome speech.
      greeting: 'Seaview Hotel, how can I help?',
      stt: [{ provider: 'deepgram', baseUrl: fakes.deepgram.url, apiKey: 'test-key', finalizeTimeoutMs: 1500 }],
      llm: [{ provider: 'openai', baseUrl: fakes.openai.url, model: 'fake', apiKey: 'x' }],
      tts: [{ provider: 'elevenlabs', baseUrl: fakes.elevenlabs.url, apiKey: 'test-elevenlabs-key', voiceId: 'v' }],
      },
    },
  } as TenantConfig;
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--calls');
  const levels = (arg > 0 ? (process.argv[arg + 1] ?? '1,20') : '1,20').split(',').map(Number);
  const tenantFile = new URL('../../tenants/hotel.yaml', import.meta.url);
  const hotel = parseTenantDocument('hotel.yaml', await readFile(tenantFile, 'utf8'), {});
  let endpointingSilenceMs: number | undefined;
  const scenarios = [];
  for (const calls of levels) {
    const fakes = await startFakes(calls);
    const tenant = tenantFor(hotel, fakes);
    endpointingSilenceMs = (tenant.agents.default as AgentConfig).endpointing.silenceMs;
    const dataDir = await mkdtemp(join(tmpdir(), 'parley-bench-'));
    const server = await startServer({
      config: loadConfig({}, { port: 0, host: '127.0.0.1', dataDir, adminKey: ADMIN_KEY }),
      tenants: [tenant],
      logger: createLogger({ level: 'warn', destination: process.stderr }),
    });
    try {
      const { result: results, cost } = await measureProcess(() =>
        Promise.all(
          Array.from({ length: calls }, async (_, i) => {
            await new Promise((r) => setTimeout(r, calls > 1 ? (i * ARRIVAL_SPREAD_MS) / calls : 0));
            return placeSimulatedCall({
              baseUrl: server.url,
              to: NUMBER,
              from: `+1555555${String(1000 + i)}`,
              steps: CALLER_LINES.map((say) => ({ say })),
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
        expectedTurns: calls * CALLER_LINES.length,
        voiceToVoiceMs: summary(pick('voiceToVoiceMs')),
        parleyOverheadMs: summary(pick('parleyOverheadMs')),
        endpointingMs: summary(pick('endpointingMs')),
        sttFinalMs: summary(pick('sttFinalMs')),
        llmFirstTokenMs: summary(pick('llmFirstTokenMs')),
        ttsFirstAudioMs: summary(pick('ttsFirstAudioMs')),
        heardByCallerMs: summary(results.flatMap((r) => r.utterances.map((u) => u.heardLatencyMs)).filter((v): v is number => v !== undefined)),
      });
    } finally {
      await server.close();
      await fakes.close();
    }
  }
  const overheadP50s = scenarios.map((s) => s.parleyOverheadMs.p50);
  const met = overheadP50s.length > 0 && overheadP50s.every((p) => p !== null && p <= OVERHEAD_P50_TARGET_MS);
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'provider-overhead',
        providers: { stt: 'deepgram (fake)', llm: 'openai (fake)', tts: 'elevenlabs (fake)' },
        fakeLatencyMs: PROVIDER_LATENCY,
        endpointingSilenceMs,
        arrivalSpreadMs: ARRIVAL_SPREAD_MS,
        note: 'voiceToVoice = caller stops speaking → first agent audio on the wire; parleyOverhead = voiceToVoice − endpointing − STT − LLM (to first sentence) − TTS; CPU, RSS and event-loop delay include the in-process callers and fakes',
        targets: { overheadP50Ms: OVERHEAD_P50_TARGET_MS, met },
        scenarios,
      },
      null,
      2,
    )}\n`,
  );
}

await main();
