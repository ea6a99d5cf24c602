import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, observeTurnLatency } from './metrics.js';

describe('metrics', () => {
  test('each instance has its own registry, separate from the global one', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.activeCalls.inc(3);
    assert.match(await a.registry.metrics(), /^parley_active_calls 3$/m);
    assert.match(await b.registry.metrics(), /^parley_active_calls 0$/m);
    assert.doesNotMatch(await globalRegistry.metrics(), /parley_/);
  });

  test('exposes parley metrics and default process metrics on the same registry', async () => {
    const m = createMetrics();
    m.callsTotal.inc({ status: 'completed' });
    m.turnsTotal.inc({ role: 'user', interrupted: 'false' });
    m.bargeInsTotal.inc();
    m.streamErrorsTotal.inc({ reason: 'ws_closed' });
    const text = await m.registry.metrics();
    for (const name of [
      'parley_active_calls',
      'parley_calls_total{status="completed"} 1',
      'parley_turns_total{role="user",interrupted="false"} 1',
      '# TYPE parley_stage_latency_ms histogram',
      'parley_barge_ins_total 1',
      'parley_stream_errors_total{reason="ws_closed"} 1',
      'process_cpu_user_seconds_total',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
  });

  test('exposes event-loop delay beyond the sampling period, reset at each scrape', async () => {
    const m = createMetrics();
    const block = (ms: number): void => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    await new Promise((r) => setTimeout(r, 30));
    block(60);
    await new Promise((r) => setTimeout(r, 30));
    const first = await m.registry.metrics();
    const max = Number(/^parley_event_loop_delay_ms\{quantile="max"\} (\S+)$/m.exec(first)?.[1]);
    assert.ok(max >= 40 && max < 1000, `max ${max}`);
    await new Promise((r) => setTimeout(r, 60));
    const second = await m.registry.metrics();
    const p50 = Number(/^parley_event_loop_delay_ms\{quantile="0.5"\} (\S+)$/m.exec(second)?.[1]);
    assert.ok(p50 < 10, `idle p50 ${p50}`);
    assert.equal(createMetrics({ collectDefaults: false }).eventLoopDelayMs, undefined);
  });

  test('observeTurnLatency records each measured stage and skips missing ones', async () => {
    const m = createMetrics({ collectDefaults: false });
    observeTurnLatency(m, { endpointingMs: 180, voiceToVoiceMs: 720, sttFinalMs: Number.NaN });
    const text = await m.registry.metrics();
    assert.match(text, /parley_stage_latency_ms_count\{stage="endpointing"\} 1/);
    assert.match(text, /parley_stage_latency_ms_sum\{stage="voice_to_voice"\} 720/);
    assert.match(text, /parley_stage_latency_ms_bucket\{le="750",stage="voice_to_voice"\} 1/);
    assert.doesNotMatch(text, /stage="stt_final"/);
  });
});
