import type { Logger } from 'pino';
import { EnergyVad } from '../audio/energy-vad.js';
import { SileroVad } from '../audio/silero-vad.js';
import type { VoiceActivityDetector } from '../audio/vad.js';
import type { LiveCalls } from '../calls/live-calls.js';
import type { Metrics } from '../observability/metrics.js';
import { hasRealLlm } from '../post-call/analysis.js';
import type { FinalizeInput } from '../post-call/finalize.js';
import { meterLlm } from '../post-call/metered-llm.js';
import { CallUsageMeter } from '../post-call/usage-meter.js';
import { CallRecorder } from '../pipeline/call-recorder.js';
import { type SessionTools, VoiceSession } from '../pipeline/voice-session.js';
import { createCallProviders, type SharedEngines } from '../providers/registry.js';
import type { FallbackSwitch } from '../providers/with-fallback.js';
import { tapForRecording } from '../recording/recording-tap.js';
import { StereoRecorder } from '../recording/stereo-recorder.js';
import { type CallRow, LIVE_CALL_STATUSES, type Store } from '../store/store.js';
import type { TenantDirectory } from '../tenants/directory.js';
import type { AgentConfig, TenantConfig } from '../tenants/schema.js';
import { buildAgentTools, runTool } from '../tools/registry.js';
import type { ToolServices } from '../tools/types.js';
import type { PhraseCache } from '../pipeline/phrase-cache.js';
import { withPhraseCache } from './phrase-warmup.js';
import { createTwilioCallControl } from '../transports/twilio/call-control.js';
import { MediaProtocolError, type StartMessage } from '../transports/twilio/media-protocol.js';
import type { StartAuthorizer, TwilioMediaStream } from '../transports/twilio/media-stream.js';
import type { StreamTokenClaims, StreamTokens } from '../transports/twilio/stream-token.js';
import { STREAM_TOKEN_PARAMETER } from '../transports/twilio/webhook-routes.js';
import type { WhisperTokens } from '../transports/twilio/whisper-tokens.js';
import type { MediaHandler, MediaTransport } from '../transports/types.js';
import type { WebhookEmitter } from '../webhooks/emitter.js';

export interface CallFactoryDeps {
  readonly tenants: TenantDirectory;
  readonly streamTokens: StreamTokens;
  readonly whisperTokens: WhisperTokens;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly engines: SharedEngines;
  readonly twilioApiBaseUrl: string;
  readonly publicUrl?: string;
  readonly dataDir: string;
  readonly liveCalls: LiveCalls;
  readonly webhooks: Pick<WebhookEmitter, 'emit'>;
  /** Post-call work (cost, analysis, call.ended webhook); never throws. */
  readonly finalize: (input: FinalizeInput) => Promise<void>;
  readonly toolServices: ToolServices;
  /** Fixed phrases (greetings, prompts) synthesised once per voice. */
  readonly phraseCache: PhraseCache;
}

/**
 * The call record a starting stream belongs to: an outbound call's row already exists (it was
 * queued by POST /v1/calls) and is taken over; an inbound call gets a new one.
 */
async function openCallRecord(d: CallFactoryDeps, claims: StreamTokenClaims, tenant: TenantConfig, start: StartMessage, parameters: Record<string, string>): Promise<CallRow | MediaProtocolError> {
  const nowMs = Date.now();
  const { callSid } = start.start;
  if (claims.callId === undefined) {
    return d.store.calls.create({
      tenantId: tenant.id,
      agentId: claims.agentId,
      carrier: 'twilio',
      carrierCallSid: callSid,
      streamSid: start.streamSid,
      direction: 'inbound',
      fromNumber: claims.from,
      toNumber: claims.to,
      startedAtMs: nowMs,
      answeredAtMs: nowMs,
      metadata: { customParameters: parameters },
    });
  }
  const row = await d.store.calls.get(claims.callId, { tenantId: tenant.id });
  const live = row && (LIVE_CALL_STATUSES as readonly string[]).includes(row.status);
  if (!row || row.direction !== 'outbound' || !live || (row.carrierCallSid !== null && row.carrierCallSid !== callSid)) {
    return new MediaProtocolError('unauthorized', 'stream token is for a call that is not waiting for its stream');
  }
  const patch = { status: 'in_progress' as const, answeredAtMs: row.answeredAtMs ?? nowMs, streamSid: start.streamSid, carrierCallSid: callSid, metadata: { ...row.metadata, customParameters: parameters } };
  await d.store.calls.update(row.id, patch);
  return { ...row, ...patch };
}

function buildVad(agent: AgentConfig, sampleRateHz: number, log: Logger): Promise<VoiceActivityDetector> | VoiceActivityDetector {
  return agent.vad === 'silero'
    ? SileroVad.create({ sampleRateHz: sampleRateHz as 8000 | 16000, onError: (err) => log.warn({ err: (err as Error).message }, 'silero inference failed') })
    : new EnergyVad({ sampleRateHz });
}

/**
 * Turns an authorised Twilio `start` into a live call: checks the stream token, opens the call
 * record, builds the agent's providers, tools, optional recording and the voice session.
 * Everything a call owns is created here and released when it ends; the post-call work
 * (cost, summary, call.ended webhook) starts once the record is complete.
 */
export function createTwilioCallAuthorizer(d: CallFactoryDeps): StartAuthorizer {
  return async (start: StartMessage, transport: TwilioMediaStream): Promise<MediaHandler | MediaProtocolError> => {
    const { callSid, customParameters } = start.start;
    const check = d.streamTokens.consume(customParameters[STREAM_TOKEN_PARAMETER], callSid);
    if (!check.ok) {
      d.metrics.streamErrorsTotal.inc({ reason: 'unauthorized' });
      return new MediaProtocolError('unauthorized', check.reason);
    }
    const { claims } = check;
    const tenant = d.tenants.get(claims.tenantId);
    if (!tenant) return new MediaProtocolError('unauthorized', 'tenant no longer exists');
    const agentId = claims.agentId;
    const agent = tenant.agents[agentId];
    if (!agent) return new MediaProtocolError('unauthorized', 'agent no longer exists');
    const { [STREAM_TOKEN_PARAMETER]: _token, ...parameters } = customParameters;
    const log = d.logger.child({ tenantId: tenant.id, callSid });

    const opened = await openCallRecord(d, claims, tenant, start, parameters);
    if (opened instanceof MediaProtocolError) return opened;
    const call = opened;
    const outbound = call.direction === 'outbound';
    // The person the agent talks with, and the tenant's number on this call.
    const remoteNumber = outbound ? call.toNumber : call.fromNumber;
    const localNumber = outbound ? call.fromNumber : call.toNumber;
    const recorder = new CallRecorder(d.store, call.id, log);

    const onSwitch = (s: FallbackSwitch): void => {
      d.metrics.providerFallbacksTotal.inc({ kind: s.kind, from: s.from, to: s.to ?? 'none' });
      log.warn({ ...s }, 'provider fallback');
      recorder.event('provider.fallback', { ...s });
    };
    const variables = { ...((call.metadata.variables as Record<string, string> | undefined) ?? {}), 'caller.number': remoteNumber, 'called.number': localNumber, ...parameters };
    const meter = new CallUsageMeter();
    let providers: ReturnType<typeof createCallProviders>;
    let vad: VoiceActivityDetector;
    try {
      providers = createCallProviders(agent, d.engines, variables, onSwitch);
      vad = await buildVad(agent, transport.sampleRateHz, log);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot set up the call');
      recorder.event('call.setup_failed', { message: (err as Error).message });
      recorder.end('failed', 'setup_failed');
      return new MediaProtocolError('invalid_message', 'agent is misconfigured');
    }
    const llm = hasRealLlm(agent) ? meterLlm(providers.llm, meter) : providers.llm;

    recorder.event('call.started', { carrier: 'twilio', callSid, streamSid: start.streamSid, agentId, stt: providers.stt.name, llm: providers.llm.name, tts: providers.tts.name });
    void d.webhooks.emit(tenant, 'call.started', { call: { id: call.id, agentId, direction: call.direction, from: call.fromNumber, to: call.toNumber, startedAt: new Date(call.startedAtMs).toISOString() } }, call.id);
    d.metrics.activeCalls.inc();
    log.info({ callId: call.id, agentId, direction: call.direction }, 'call started');
    const startedAtMs = Date.now();

    const toolsByName = buildAgentTools(d.toolServices, tenant, agentId);
    const tools: SessionTools = {
      byName: toolsByName,
      context: { tenant, agentId, agent, callId: call.id, remoteNumber, localNumber, nowMs: Date.now },
      run: (tool, args, ctx) => runTool(tool, args, ctx),
    };
    let recording: Promise<unknown> = Promise.resolve();
    let unregister = (): void => {};

    const build = (t: MediaTransport): VoiceSession =>
      new VoiceSession({
        transport: t,
        ...providers,
        llm,
        tts: withPhraseCache(providers.tts, agent, d.phraseCache),
        vad,
        agent,
        recorder,
        metrics: d.metrics,
        log,
        meter,
        tools,
        callControl: createTwilioCallControl({ tenant, callSid, baseUrl: d.twilioApiBaseUrl, publicUrl: d.publicUrl, whisperTokens: d.whisperTokens, log }),
        onToolCalled: (e) => {
          void d.webhooks.emit(tenant, 'tool.called', { callId: call.id, agentId, name: e.name, arguments: e.arguments, result: e.result }, call.id);
        },
        onEnded: (reason, status) => {
          unregister();
          d.metrics.activeCalls.dec();
          d.metrics.callsTotal.inc({ status });
          if (status === 'failed') d.metrics.streamErrorsTotal.inc({ reason: reason.replace(/^stream_error:/, '') });
          log.info({ callId: call.id, reason }, 'call ended');
          const usage = meter.snapshot(Date.now() - startedAtMs);
          // The record (turns, end) and the recording's metadata are written before the post-call work reads them.
          void Promise.all([recorder.flush(), recording]).then(() => d.finalize({ tenant, agentId, callId: call.id, usage }));
        },
      });

    let handler: MediaHandler;
    if (agent.recording) {
      const wav = new StereoRecorder({ dataDir: d.dataDir, tenantId: tenant.id, callId: call.id, sampleRateHz: transport.sampleRateHz, log });
      const tap = tapForRecording(transport, build, wav);
      // Stored at the start: a crash leaves a findable file, and retention can remove it.
      await d.store.calls.update(call.id, { recording: wav.metadata }).catch((err: unknown) => log.error({ err: (err as Error).message }, 'recording metadata write failed'));
      recording = tap.recording.then((r) => d.store.calls.update(call.id, { recording: r })).catch((err: unknown) => log.error({ err: (err as Error).message }, 'recording metadata write failed'));
      handler = tap.handler;
    } else {
      handler = build(transport);
    }
    unregister = d.liveCalls.register(call.id, { hangup: (reason) => transport.hangup(reason) });
    return handler;
  };
}
