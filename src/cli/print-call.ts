/** Formats a call record (GET /v1/calls/{id}) and the caller's own measurements for people. */

export interface ApiTurn {
  seq: number;
  role: 'user' | 'agent';
  text: string;
  interrupted: boolean;
  latency: Record<string, number | null>;
}

export interface ApiCallDetail {
  id: string;
  status: string;
  endReason: string | null;
  durationMs: number | null;
  turns: ApiTurn[];
  events: { at: string; type: string; data: Record<string, unknown> }[];
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${Math.round(v)}`;
}

export function formatConversation(call: ApiCallDetail): string {
  const lines: string[] = [];
  lines.push(`call ${call.id}: ${call.status} (${call.endReason ?? 'open'}), ${((call.durationMs ?? 0) / 1000).toFixed(1)} s`);
  lines.push('');
  for (const t of call.turns) {
    const who = t.role === 'user' ? 'caller' : 'agent ';
    const cut = t.interrupted ? '  [interrupted — caller heard only this]' : '';
    lines.push(`${who}: ${t.text || '(nothing heard)'}${cut}`);
    if (t.role === 'agent' && t.latency.voiceToVoiceMs !== null && t.latency.voiceToVoiceMs !== undefined) {
      const l = t.latency;
      lines.push(
        `        voice-to-voice ${ms(l.voiceToVoiceMs)} ms = endpointing ${ms(l.endpointingMs)} + stt ${ms(l.sttFinalMs)} + agent ${ms(l.llmFirstTokenMs)} + tts ${ms(l.ttsFirstAudioMs)} + parley ${ms(l.parleyOverheadMs)}`,
      );
    }
  }
  const notable = call.events.filter((e) => !['call.started', 'call.ended'].includes(e.type));
  if (notable.length > 0) {
    lines.push('');
    lines.push('events:');
    for (const e of notable) lines.push(`  ${e.type} ${JSON.stringify(e.data)}`);
  }
  return lines.join('\n');
}
