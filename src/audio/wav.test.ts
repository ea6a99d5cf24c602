import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WavError, decodeWavData, encodeWav, parseWav, parseWavHeader, readWavFile, writeWavFile } from './wav.js';
import { sharedDataPath } from '../../test/support/shared-data.js';

const SPEECH_DIR = sharedDataPath('speech');

interface TranscriptEntry {
  sample_rate: number;
  channels: number;
  num_samples: number;
  format: string;
}
const transcripts = JSON.parse(readFileSync(join(SPEECH_DIR, 'transcripts.json'), 'utf8')) as Record<string, TranscriptEntry>;

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Builds a RIFF/WAVE file from raw chunks (each `[id, body]`), padding odd chunks like real writers do. */
function riff(chunks: Array<[string, Uint8Array, number?]>): Buffer {
  const parts: Buffer[] = [Buffer.from('WAVE', 'latin1')];
  for (const [id, body, declaredSize] of chunks) {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(declaredSize ?? body.length, 4);
    parts.push(head, Buffer.from(body));
    if (body.length % 2 === 1 && declaredSize === undefined) parts.push(Buffer.alloc(1));
  }
  const payload = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function fmtChunk(tag: number, channels: number, rateHz: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  const blockAlign = (channels * bits) / 8;
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rateHz, 4);
  b.writeUInt32LE(rateHz * blockAlign, 8);
  b.writeUInt16LE(blockAlign, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

test('every speech fixture parses with the rate and sample count listed in transcripts.json', () => {
  const wavs = Object.entries(transcripts).filter(([name]) => name.endsWith('.wav'));
  assert.ok(wavs.length >= 70, `found ${wavs.length} fixtures`);
  for (const [name, meta] of wavs) {
    const wav = parseWav(readFileSync(join(SPEECH_DIR, name)));
    assert.equal(wav.sampleRateHz, meta.sample_rate, name);
    assert.equal(wav.channels, meta.channels, name);
    assert.equal(wav.samples.length, meta.num_samples, name);
    assert.equal(wav.format, 'pcm', name);
    assert.equal(wav.bitsPerSample, 16, name);
  }
});

test('jfk.wav is read past its LIST chunk as 176000 samples at 16 kHz', async () => {
  const wav = await readWavFile(join(SPEECH_DIR, 'jfk.wav'));
  assert.equal(wav.sampleRateHz, 16000);
  assert.equal(wav.samples.length, 176000);
  assert.equal(wav.channelData.length, 1);
  assert.equal(wav.channelData[0], wav.samples);
});

test('goforward.wav decodes to exactly the samples of the headerless goforward.raw', () => {
  const wav = parseWav(readFileSync(join(SPEECH_DIR, 'goforward.wav')));
  const raw = readFileSync(join(SPEECH_DIR, 'goforward.raw'));
  const expected = new Int16Array(raw.length / 2);
  for (let i = 0; i < expected.length; i++) expected[i] = raw.readInt16LE(i * 2);
  assert.deepEqual(wav.samples, expected);
});

test('an 8 kHz FSDD recording decodes its first samples exactly', () => {
  // Bytes 44.. of 0_george_0.wav are 2ffa 3efc a2fd a300 (little-endian int16).
  const wav = parseWav(readFileSync(join(SPEECH_DIR, 'fsdd_8k/0_george_0.wav')));
  assert.equal(wav.sampleRateHz, 8000);
  assert.deepEqual(Array.from(wav.samples.subarray(0, 4)), [-1489, -962, -606, 163]);
});

test('encodeWav writes a canonical 44-byte header and interleaves stereo channels', () => {
  const bytes = encodeWav({ sampleRateHz: 8000, channels: [Int16Array.of(1, -2), Int16Array.of(3, 32767)] });
  const expected = hex(`
    52494646 2c000000 57415645 666d7420 10000000 0100 0200 401f0000 007d0000 0400 1000
    64617461 08000000 0100 0300 feff ff7f`);
  assert.deepEqual(bytes, expected);
});

test('encode then parse round-trips mono and stereo audio exactly', () => {
  const a = Int16Array.from({ length: 999 }, (_, i) => ((i * 7919) % 65536) - 32768);
  const b = Int16Array.from({ length: 999 }, (_, i) => (i * 37) % 30000);
  const mono = parseWav(encodeWav({ sampleRateHz: 22050, channels: [a] }));
  assert.equal(mono.sampleRateHz, 22050);
  assert.deepEqual(mono.samples, a);
  const stereo = parseWav(encodeWav({ sampleRateHz: 48000, channels: [a, b] }));
  assert.equal(stereo.channels, 2);
  assert.deepEqual(stereo.channelData, [a, b]);
  assert.equal(stereo.samples[10], Math.round((a[10]! + b[10]!) / 2));
});

test('writeWavFile and readWavFile round-trip through the filesystem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parley-wav-'));
  try {
    const samples = Int16Array.of(0, 100, -100, 32767, -32768);
    await writeWavFile(join(dir, 'x.wav'), { sampleRateHz: 16000, channels: [samples] });
    const wav = await readWavFile(join(dir, 'x.wav'));
    assert.deepEqual(wav.samples, samples);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a sox-written 24-bit stereo WAVE_FORMAT_EXTENSIBLE file keeps the top 16 bits and downmixes by averaging', () => {
  // `sox -t raw -r 8000 -e signed -b 16 -c 2 in.raw -b 24 out.wav` with frames (0, 16384) and (-16384, 32767).
  const file = hex(`
    52494646 54000000 57415645 666d7420 28000000 feff 0200 401f0000 80bb0000 0600 1800
    1600 1800 03000000 01000000 00001000 800000aa 00389b71 66616374 04000000 02000000
    64617461 0c000000 000000 000040 0000c0 00ff7f`);
  const wav = parseWav(file);
  assert.equal(wav.format, 'pcm');
  assert.equal(wav.bitsPerSample, 24);
  assert.deepEqual(wav.channelData, [Int16Array.of(0, -16384), Int16Array.of(16384, 32767)]);
  assert.deepEqual(wav.samples, Int16Array.of(8192, 8192));
});

test('a sox-written 32-bit float file maps ±1.0 to int16 full scale', () => {
  // Samples 0, 0.5, -0.5, 0.99997 (sox's conversion of 0, 16384, -16384, 32767); fmt chunk is 18 bytes.
  const file = hex(`
    52494646 42000000 57415645 666d7420 12000000 0300 0100 401f0000 007d0000 0400 2000 0000
    66616374 04000000 04000000 64617461 10000000 00000000 0000003f 000000bf 00fe7f3f`);
  const wav = parseWav(file);
  assert.equal(wav.format, 'float');
  assert.deepEqual(wav.samples, Int16Array.of(0, 16384, -16384, 32767));
});

test('a sox-written mu-law file decodes through the G.711 table', () => {
  // sox encodes 0, 16384, -16384, 32767 as ff 8f 0f 80, which G.711 decodes to 0, 16764, -16764, 32124.
  const file = hex(`
    52494646 36000000 57415645 666d7420 12000000 0700 0100 401f0000 401f0000 0100 0800 0000
    66616374 04000000 04000000 64617461 04000000 ff8f0f80`);
  const wav = parseWav(file);
  assert.equal(wav.format, 'mulaw');
  assert.deepEqual(wav.samples, Int16Array.of(0, 16764, -16764, 32124));
});

test('8-bit unsigned, 32-bit int, 64-bit float and A-law data convert to int16', () => {
  const u8 = parseWav(riff([['fmt ', fmtChunk(1, 1, 8000, 8)], ['data', Uint8Array.of(0, 128, 255)]]));
  assert.deepEqual(u8.samples, Int16Array.of(-32768, 0, 32512));

  const i32 = Buffer.alloc(8);
  i32.writeInt32LE(0x7fffffff, 0);
  i32.writeInt32LE(-0x12345678, 4);
  const s32 = parseWav(riff([['fmt ', fmtChunk(1, 1, 8000, 32)], ['data', i32]]));
  assert.deepEqual(s32.samples, Int16Array.of(32767, -0x1235)); // arithmetic shift right by 16

  const f64 = Buffer.alloc(24);
  f64.writeDoubleLE(-1, 0);
  f64.writeDoubleLE(0.25, 8);
  f64.writeDoubleLE(2, 16); // out of range: clipped
  assert.deepEqual(parseWav(riff([['fmt ', fmtChunk(3, 1, 8000, 64)], ['data', f64]])).samples, Int16Array.of(-32768, 8192, 32767));

  // A-law 0xd5 → 8, 0x55 → -8, 0xaa → 32256 (G.711 reference values).
  const alaw = parseWav(riff([['fmt ', fmtChunk(6, 1, 8000, 8)], ['data', Uint8Array.of(0xd5, 0x55, 0xaa)]]));
  assert.equal(alaw.format, 'alaw');
  assert.deepEqual(alaw.samples, Int16Array.of(8, -8, 32256));
});

test('chunks may come in any order, with odd-sized chunks padded', () => {
  const data = Buffer.alloc(4);
  data.writeInt16LE(1234, 0);
  data.writeInt16LE(-5678, 2);
  const file = riff([
    ['LIST', Buffer.from('INFOISFT', 'latin1')],
    ['junk', Uint8Array.of(1, 2, 3)], // odd size: one pad byte follows
    ['data', data],
    ['fmt ', fmtChunk(1, 1, 16000, 16)],
  ]);
  const wav = parseWav(file);
  assert.equal(wav.sampleRateHz, 16000);
  assert.deepEqual(wav.samples, Int16Array.of(1234, -5678));
});

test('streaming placeholder data sizes (0, 0xFFFFFFFF, espeak-ng 0x7FFFF000) read to the end of the buffer', () => {
  const samples = Buffer.alloc(6);
  samples.writeInt16LE(-1, 0);
  samples.writeInt16LE(2, 2);
  samples.writeInt16LE(300, 4);
  for (const placeholder of [0, 0xffffffff, 0x7ffff000]) {
    const file = riff([['fmt ', fmtChunk(1, 1, 22050, 16)], ['data', samples, placeholder]]);
    const wav = parseWav(file);
    assert.deepEqual(wav.samples, Int16Array.of(-1, 2, 300), `placeholder ${placeholder.toString(16)}`);
    assert.equal(parseWavHeader(file)?.dataBytes, null);
  }
});

test('a truncated data chunk yields the whole frames that are present', () => {
  const file = riff([['fmt ', fmtChunk(1, 2, 8000, 16)], ['data', Uint8Array.of(1, 0, 2, 0, 3, 0), 400]]);
  const wav = parseWav(file);
  assert.deepEqual(wav.channelData, [Int16Array.of(1), Int16Array.of(2)]);
});

test('parseWavHeader waits for the data chunk header, then reports the data offset', () => {
  // espeak-ng --stdout header: RIFF and data sizes are placeholders, 22050 Hz mono 16-bit.
  const espeak = hex(`
    52494646 24f0ff7f 57415645 666d7420 10000000 0100 0100 22560000 44ac0000 0200 1000
    64617461 00f0ff7f 0000 1000 f0ff`);
  for (let n = 0; n < 44; n++) assert.equal(parseWavHeader(espeak.subarray(0, n)), null, `prefix ${n}`);
  const header = parseWavHeader(espeak.subarray(0, 44));
  assert.deepEqual(header, {
    format: 'pcm', sampleRateHz: 22050, channels: 1, bitsPerSample: 16, blockAlign: 2, dataOffset: 44, dataBytes: null,
  });
  // A stream reader decodes whole frames and carries the odd byte over.
  assert.deepEqual(decodeWavData(espeak.subarray(44, 49), header!), [Int16Array.of(0, 16)]);

  const jfk = readFileSync(join(SPEECH_DIR, 'jfk.wav'));
  const jfkHeader = parseWavHeader(jfk.subarray(0, 100));
  assert.equal(jfkHeader?.dataOffset, 78); // 36-byte RIFF/fmt + 34-byte LIST chunk + data chunk header
  assert.equal(jfkHeader?.dataBytes, 352000);
});

test('malformed input raises WavError with a specific message', () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [Buffer.from('not a wav file at all', 'latin1'), /not a RIFF\/WAVE file/],
    [Buffer.from('RIFF', 'latin1'), /truncated before its RIFF header/],
    [riff([['fmt ', fmtChunk(1, 1, 8000, 16)]]).subarray(0, 30), /truncated inside its fmt chunk/],
    [riff([['fmt ', fmtChunk(1, 1, 8000, 16)]]), /no data chunk/],
    [riff([['data', Uint8Array.of(0, 0)]]), /no fmt chunk/],
    [riff([['fmt ', fmtChunk(2, 1, 8000, 4)], ['data', Uint8Array.of(0)]]), /unsupported WAV encoding: format tag 2/],
    [riff([['fmt ', fmtChunk(1, 0, 8000, 16)], ['data', Uint8Array.of(0)]]), /zero channels/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => parseWav(bytes), (e: unknown) => e instanceof WavError && message.test(e.message), String(message));
  }
  assert.throws(() => parseWavHeader(Buffer.from('RIFX....WAVE', 'latin1')), WavError);
});

test('encodeWav rejects channels of different lengths', () => {
  assert.throws(() => encodeWav({ sampleRateHz: 8000, channels: [new Int16Array(2), new Int16Array(3)] }), RangeError);
  assert.throws(() => encodeWav({ sampleRateHz: 8000, channels: [] }), RangeError);
});
