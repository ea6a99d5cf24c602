import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answerLatency } from './turn-latency.js';

test("Parley's overhead is what remains of voice-to-voice after endpointing and every provider stage", () => {
  // Caller stops at 1000; turn ends at 1600 (600 silence); transcript at 1650 (50);
  // agent asked at 1653, first token 1953 (300), first sentence 2003 (+50); TTS first audio 2153 (150); sent 2160.
  const l = answerLatency(
    { lastSpeechAtMs: 1000, endpointingMs: 600, sttFinalMs: 50 },
    { startedAtMs: 1653, firstTokenAtMs: 1953, firstSentenceAtMs: 2003, firstAudioAtMs: 2153, ttsFirstAudioMs: 150 },
    2160,
  );
  assert.deepEqual(l, { endpointingMs: 600, sttFinalMs: 50, llmFirstTokenMs: 300, ttsFirstAudioMs: 150, voiceToVoiceMs: 1160, parleyOverheadMs: 10 });
});

test('overhead never goes negative when stages overlap', () => {
  const l = answerLatency({ lastSpeechAtMs: 0, endpointingMs: 600, sttFinalMs: 100 }, { startedAtMs: 650, firstTokenAtMs: 700 }, 690);
  assert.equal(l.parleyOverheadMs, 0);
});
