import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readSse, type SseEvent } from './sse.js';

function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function parse(chunks: readonly Uint8Array[], signal = new AbortController().signal): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of readSse(streamOf(chunks), signal)) out.push(ev);
  return out;
}

const enc = new TextEncoder();

/** Every way of cutting `bytes` in two, plus one chunk per byte. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.slice(0, i), bytes.slice(i)]);
  out.push(Array.from(bytes, (b) => Uint8Array.of(b)));
  return out;
}

describe('readSse', () => {
  const wire =
    '\uFEFF: keep-alive comment\r\n' +
    'event: message_start\r\n' +
    'data: {"a":1}\r\n' +
    '\r\n' +
    'data: line one\n' +
    'data:line two\n' +
    'id: 7\n' +
    '\n' +
    'data: café ☕ 🎉\r' +
    '\r' +
    'event: empty-data-ignored\n' +
    '\n' +
    'data: [DONE]\n\n';
  const expected: SseEvent[] = [
    { event: 'message_start', data: '{"a":1}' },
    { data: 'line one\nline two' },
    { data: 'café ☕ 🎉' },
    { data: '[DONE]' },
  ];

  it('parses events with CRLF, CR and LF line ends, multi-line data and comments', async () => {
    assert.deepEqual(await parse([enc.encode(wire)]), expected);
  });

  it('gives the same events wherever the stream is split, even inside CRLF or a UTF-8 sequence', async () => {
    for (const chunks of splits(enc.encode(wire))) {
      assert.deepEqual(await parse(chunks), expected, `split: ${chunks.map((c) => c.length).join('+')}`);
    }
  });

  it('discards an event that has no terminating blank line at end of stream', async () => {
    assert.deepEqual(await parse([enc.encode('data: a\n\ndata: partial\n')]), [{ data: 'a' }]);
  });

  it('keeps a data field with no colon as an empty line of data', async () => {
    assert.deepEqual(await parse([enc.encode('data\ndata: x\n\n')]), [{ data: '\nx' }]);
  });

  it('stops without error when the signal aborts while waiting for bytes', async () => {
    const ac = new AbortController();
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode('data: first\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const got: SseEvent[] = [];
    for await (const ev of readSse(body, ac.signal)) {
      got.push(ev);
      setImmediate(() => ac.abort());
    }
    assert.deepEqual(got, [{ data: 'first' }]);
    assert.equal(cancelled, true);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode('data: a\n\ndata: b\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const ev of readSse(body, new AbortController().signal)) {
      assert.equal(ev.data, 'a');
      break;
    }
    assert.equal(cancelled, true);
  });

  it('propagates a read error when not aborted', async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(enc.encode('data: a\n\n'));
        controller.error(new Error('socket hang up'));
      },
    });
    await assert.rejects(parse0(body), /socket hang up/);
  });
});

async function parse0(body: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _ of readSse(body, new AbortController().signal)) {
    // drain
  }
}
