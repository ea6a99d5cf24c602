import type { Logger } from 'pino';
import { EnergyVad } from '../audio/energy-vad.js';
import { SileroVad } from '../audio/silero-vad.js';
import type { VoiceActivityDetector } from '../audio/vad.js';
import type { Metrics } from '../observability/metrics.js';
import { CallRecorder } from '../pipeline/call-recorder.js';
import type { CallControl } from '../pipeline/agent-tools.js';
import { VoiceSession } from '../pipeline/voice-session.js';
import { createCallProviders, type SharedEngines } from '../providers/registry.js';
import type { FallbackSwitch } from '../providers/with-fallback.js';
import type { Store } from '../store/store.js';
import type { TenantDirectory } from '../tenants/directory.js';
import type { TenantConfig } from '../tenants/schema.js';
import { MediaProtocolError, type StartMessage } from '../transports/twilio/media-protocol.js';
import type { StartAuthorizer, TwilioMediaStream } from '../transports/twilio/media-stream.js';
import { TwilioRestClient } from '../transports/twilio/rest-client.js';
import type { StreamTokens } from '../transports/twilio/stream-token.js';
import { STREAM_TOKEN_PARAMETER } from '../transports/twilio/webhook-routes.js';
import type { MediaHandler } from '../transports/types.js';

export interface CallFactoryDeps {
  readonly tenants: TenantDirectory;
  readonly streamTokens: StreamTokens;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly engines: SharedEngines;
  readonly twilioApiBaseUrl: string;
}

function twilioCallControl(tenant: TenantConfig, callSid: string, baseUrl: string): CallControl {
  return {
    async transfer(to: string): Promise<void> {
      const { accountSid, authToken } = tenant.twilio ?? {};
      if (!accountSid || !authToken) throw new Error('transfer needs twilio.accountSid and twilio.authToken in the tenant file');
      await new TwilioRestClient({ accountSid, authToken }, baseUrl).transfer(callSid, to);
    },
  };
}

/**
 * Turns an authorised Twilio `start` into a live call: checks the stream token, writes the call
 * record, builds the tenant's providers and the voice session. Everything a call owns is created
 * here and released in the session's onEnd.
 */
export function createTwilioCallAuthorizer(d: CallFactoryDeps): StartAuthorizer {
  return async (start: StartMessage, transport: TwilioMediaStream): Promise<MediaHandler | MediaProtocolError> => {
    const { callSid, customParameters } = start.start;
    const check = d.streamTokens.consume(customParameters[STREAM_TOKEN_PARAMETER], callSid);
    if (!check.ok) {
      d.metrics.streamErrorsTotal.inc({ reason: 'unauthorized' });
      return new MediaProtocolError('unauthorized', check.reason);
    }
    const tenant = d.tenants.get(check.claims.tenantId);
    if (!tenant) return new MediaProtocolError('unauthorized', 'tenant no longer exists');
    const agentId = check.claims.agentId;
    const agent = tenant.agents[agentId];
    if (!agent) return new MediaProtocolError('unauthorized', 'agent no longer exists');
    const { [STREAM_TOKEN_PARAMETER]: _token, ...parameters } = customParameters;
    const log = d.logger.child({ tenantId: tenant.id, callSid });
    // The recorder exists only once the call row does; switches before that are queued for it.
    let recorder: CallRecorder | undefined;
    const earlySwitches: FallbackSwitch[] = [];
    const onSwitch = (s: FallbackSwitch): void => {
      d.metrics.providerFallbacksTotal.inc({ kind: s.kind, from: s.from, to: s.to ?? 'none' });
      log.warn({ ...s }, 'provider fallback');
      if (recorder) recorder.event('provider.fallback', { ...s });
      else earlySwitches.push(s);
    };
    let providers: ReturnType<typeof createCallProviders>;
    try {
      providers = createCallProviders(agent, d.engines, { 'caller.number': check.claims.from, 'called.number': check.claims.to, ...parameters }, onSwitch);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot build providers for call');
      return new MediaProtocolError('invalid_message', 'agent is misconfigured');
    }
    let vad: VoiceActivityDetector;
    try {
      vad =
        agent.vad === 'silero'
          ? await SileroVad.create({ sampleRateHz: transport.sampleRateHz as 8000 | 16000, onError: (err) => log.warn({ err: (err as Error).message }, 'silero inference failed') })
          : new EnergyVad({ sampleRateHz: transport.sampleRateHz });
    } catch (err) {
      log.error({ err: (err as Error).message }, 'cannot load the VAD model');
      return new MediaProtocolError('invalid_message', 'voice activity detector unavailable');
    }
    const nowMs = Date.now();
    const call = await d.store.calls.create({
      tenantId: tenant.id,
      agentId,
      carrier: 'twilio',
      carrierCallSid: callSid,
      streamSid: start.streamSid,
      direction: 'inbound',
      fromNumber: check.claims.from,
      toNumber: check.claims.to,
      startedAtMs: nowMs,
      answeredAtMs: nowMs,
      metadata: { customParameters: parameters },
    });
    recorder = new CallRecorder(d.store, call.id, log);
    for (const s of earlySwitches) recorder.event('provider.fallback', { ...s });
    recorder.event('call.started', { carrier: 'twilio', callSid, streamSid: start.streamSid, stt: providers.stt.name, llm: providers.llm.name, tts: providers.tts.name });
    d.metrics.activeCalls.inc();
    log.info({ callId: call.id }, 'call started');
    const session = new VoiceSession({
      transport,
      ...providers,
      vad,
      agent,
      recorder,
      metrics: d.metrics,
      log,
      callControl: twilioCallControl(tenant, callSid, d.twilioApiBaseUrl),
      onEnded: (reason, status) => {
        d.metrics.activeCalls.dec();
        d.metrics.callsTotal.inc({ status });
        if (status === 'failed') d.metrics.streamErrorsTotal.inc({ reason: reason.replace(/^stream_error:/, '') });
        log.info({ callId: call.id, reason }, 'call ended');
      },
    });
    return session;
  };
}
