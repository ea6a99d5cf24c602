import type { Logger } from 'pino';
import { CachingTts, type PhraseCache, sentencesOf, voiceKey } from '../pipeline/phrase-cache.js';
import { fixedPhrases } from '../pipeline/voice-session.js';
import { CircuitBreakers } from '../providers/circuit-breaker.js';
import { createTts, type SharedEngines } from '../providers/registry.js';
import type { TtsProvider } from '../providers/types.js';
import type { AgentConfig, TenantConfig } from '../tenants/schema.js';

/** The sentences of an agent's fixed phrases: the cacheable set of its calls. */
export function cacheableSentences(agent: AgentConfig): Set<string> {
  return new Set(fixedPhrases(agent).flatMap(sentencesOf));
}

/** Wraps a call's TTS so the agent's fixed phrases come from (and go into) the phrase cache. */
export function withPhraseCache(tts: TtsProvider, agent: AgentConfig, cache: PhraseCache): TtsProvider {
  return new CachingTts(tts, cache, voiceKey(agent.tts), cacheableSentences(agent));
}

/**
 * Synthesises every agent's greeting once at start-up, one sentence at a time, so the first call
 * of each agent already starts speaking from the cache. Failures are logged; calls synthesise live.
 */
export async function warmGreetings(tenants: readonly TenantConfig[], engines: SharedEngines, cache: PhraseCache, log: Pick<Logger, 'warn' | 'info'>, signal: AbortSignal): Promise<void> {
  let warmed = 0;
  // Warm-up failures must not open the circuit breakers live calls rely on.
  const warmEngines: SharedEngines = { ...engines, breakers: new CircuitBreakers() };
  for (const tenant of tenants) {
    for (const [agentId, agent] of Object.entries(tenant.agents)) {
      if (signal.aborted) return;
      try {
        const tts = withPhraseCache(createTts(agent, warmEngines), agent, cache);
        for (const sentence of sentencesOf(agent.greeting)) {
          for await (const _ of tts.synthesize(one(sentence), { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })) {
            // drained into the cache
          }
        }
        warmed++;
      } catch (err) {
        log.warn({ tenantId: tenant.id, agentId, err: (err as Error).message }, 'greeting pre-synthesis failed; calls will synthesise it live');
      }
    }
  }
  log.info({ agents: warmed, cacheBytes: cache.sizeBytes }, 'greetings pre-synthesised');
}

async function* one(text: string): AsyncIterable<string> {
  yield text;
}
