import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createLogger, redactUrlTokens } from './logger.js';

/** Captures log lines written by a logger. */
function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const text = () => chunks.join('');
  return { stream, text, lines: () => text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const SECRET = 'sup3r-s3cret-value';

describe('logger', () => {
  test('never prints secrets under known keys at any usual depth', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    log.info(
      {
        authToken: SECRET,
        apiKey: SECRET,
        api_key: SECRET,
        password: SECRET,
        twilio: { authToken: SECRET, accountSid: 'AC123' },
        tenant: { providers: { llm: { apiKey: SECRET, model: 'gpt' } } },
        db: { password: SECRET },
        req: { method: 'GET', url: '/v1/calls', headers: { authorization: `Bearer ${SECRET}` } },
        headers: { authorization: `Bearer ${SECRET}` },
      },
      'config loaded',
    );
    const text = out.text();
    assert.ok(!text.includes(SECRET), text);
    const [line] = out.lines();
    assert.ok(line);
    // Non-secret siblings survive, so redaction is targeted, not wholesale.
    assert.deepEqual(line['twilio'], { authToken: '[REDACTED]', accountSid: 'AC123' });
    assert.equal((line['tenant'] as { providers: { llm: { model: string } } }).providers.llm.model, 'gpt');
    assert.equal((line['req'] as { url: string }).url, '/v1/calls');
  });

  test('strips token query values from url fields, request urls and message strings', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream });
    log.info({ url: `wss://example.com/stream?callId=c1&token=${SECRET}` }, 'dialing');
    log.info({ req: { method: 'GET', url: `/twilio/stream?token=${SECRET}&x=1` } }, 'upgrade');
    log.warn(`connecting to https://api.example.com/v1?api_key=${SECRET}`);
    const text = out.text();
    assert.ok(!text.includes(SECRET), text);
    const [a, b, c] = out.lines();
    assert.equal(a?.['url'], 'wss://example.com/stream?callId=c1&token=[REDACTED]');
    assert.equal((b?.['req'] as { url: string }).url, '/twilio/stream?token=[REDACTED]&x=1');
    assert.equal(c?.['msg'], 'connecting to https://api.example.com/v1?api_key=[REDACTED]');
  });

  test('redactUrlTokens leaves urls without credentials untouched', () => {
    assert.equal(redactUrlTokens('/v1/calls?limit=5&before=abc'), '/v1/calls?limit=5&before=abc');
    assert.equal(redactUrlTokens('/s?Token=abc#frag'), '/s?Token=[REDACTED]#frag');
  });

  test('honours the level option', () => {
    const out = capture();
    const log = createLogger({ level: 'warn', destination: out.stream });
    log.info('hidden');
    log.warn('shown');
    assert.deepEqual(out.lines().map((l) => l['msg']), ['shown']);
  });
});
