/**
 * WAV (RIFF/WAVE) reading and writing.
 *
 * Parsing is tolerant of what real producers emit: chunks in any order (LIST/fact/etc. skipped),
 * WAVE_FORMAT_EXTENSIBLE, and streaming headers whose data size is a placeholder (0, 0xFFFFFFFF, or
 * espeak-ng's 0x7FFFF000) with the audio running to the end of the buffer. Writing always produces
 * canonical 44-byte-header 16-bit PCM.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { alawDecode } from './alaw.js';
import { mulawDecode } from './mulaw.js';

/** Thrown for input that is not a WAV file or that this parser cannot decode. */
export class WavError extends Error {
  override readonly name = 'WavError';
}

export type WavSampleFormat = 'pcm' | 'mulaw' | 'alaw' | 'float';

/** The `fmt ` chunk, reduced to what decoding needs. */
export interface WavFormat {
  readonly format: WavSampleFormat;
  readonly sampleRateHz: number;
  readonly channels: number;
  /** Container bits per sample (8, 16, 24, 32 or 64). */
  readonly bitsPerSample: number;
  /** Bytes per sample frame (all channels). */
  readonly blockAlign: number;
}

export interface WavHeader extends WavFormat {
  /** Byte offset of the first sample. */
  readonly dataOffset: number;
  /** Declared size of the audio data, or null when the header is a streaming placeholder (read to the end). */
  readonly dataBytes: number | null;
}

export interface ParsedWav extends WavFormat {
  /**
   * Mono PCM16: the channels averaged (rounded) when there are several, so a stereo recording of a call
   * keeps both parties. Use `channelData` for the individual channels.
   */
  readonly samples: Int16Array;
  /** One PCM16 array per channel; for mono, `[samples]`. */
  readonly channelData: Int16Array[];
}

export interface EncodeWavInput {
  readonly sampleRateHz: number;
  /** One array per channel, all the same length; interleaved on write. */
  readonly channels: readonly Int16Array[];
}

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;
/** espeak-ng and some other streamers write this instead of a real size when writing to a pipe. */
const STREAMING_SIZE_MIN = 0x7ffff000;

function fourcc(buf: Uint8Array, offset: number): string {
  return String.fromCharCode(buf[offset]!, buf[offset + 1]!, buf[offset + 2]!, buf[offset + 3]!);
}

function parseFmt(view: DataView, offset: number, size: number): WavFormat {
  let tag = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRateHz = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    // cbSize(2) validBits(2) channelMask(4) then the SubFormat GUID, whose first two bytes are the real tag.
    if (size < 40) throw new WavError(`WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes; 40 expected`);
    tag = view.getUint16(offset + 24, true);
  }
  if (channels < 1) throw new WavError('WAV declares zero channels');
  if (sampleRateHz < 1) throw new WavError('WAV declares a zero sample rate');
  let format: WavSampleFormat;
  if (tag === FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) format = 'pcm';
  else if (tag === FORMAT_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64)) format = 'float';
  else if (tag === FORMAT_MULAW && bitsPerSample === 8) format = 'mulaw';
  else if (tag === FORMAT_ALAW && bitsPerSample === 8) format = 'alaw';
  else throw new WavError(`unsupported WAV encoding: format tag ${tag}, ${bitsPerSample} bits per sample`);
  if (blockAlign !== (bitsPerSample / 8) * channels) {
    throw new WavError(`WAV blockAlign ${blockAlign} does not match ${channels} × ${bitsPerSample}-bit samples`);
  }
  return { format, sampleRateHz, channels, bitsPerSample, blockAlign };
}

interface ChunkScan {
  fmt: WavFormat | null;
  /** Offset of the data chunk body, or -1 if not reached. */
  dataOffset: number;
  /** Declared data size, or null for a streaming placeholder. */
  dataBytes: number | null;
  /** True when a fmt chunk is cut off by the end of the buffer. */
  fmtTruncated: boolean;
}

function scanChunks(buf: Uint8Array): ChunkScan {
  const scan: ChunkScan = { fmt: null, dataOffset: -1, dataBytes: null, fmtTruncated: false };
  if (buf.length < 12) return scan;
  if (fourcc(buf, 0) !== 'RIFF' || fourcc(buf, 8) !== 'WAVE') {
    throw new WavError(fourcc(buf, 0) === 'RF64' ? 'RF64 WAV files are not supported' : 'not a RIFF/WAVE file');
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = fourcc(buf, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      // Real fmt chunks are 16–40 bytes; a huge size is corruption, and waiting for it would stall a stream.
      if (size < 16 || size > 1024) throw new WavError(`fmt chunk size ${size} is implausible`);
      if (body + size > buf.length) {
        scan.fmtTruncated = true;
        return scan;
      }
      scan.fmt = parseFmt(view, body, size);
    } else if (id === 'data' && scan.dataOffset < 0) {
      scan.dataOffset = body;
      // A placeholder size means the data runs to the end of the stream, so nothing can follow it.
      if (size === 0 || size >= STREAMING_SIZE_MIN) return scan;
      scan.dataBytes = size;
    }
    if (scan.fmt !== null && scan.dataOffset >= 0) return scan;
    offset = body + size + (size & 1); // chunks are padded to even length
  }
  return scan;
}

/**
 * Parses a WAV header from the start of a possibly partial byte stream (e.g. a TTS process's stdout).
 * @param buf bytes received so far, starting at the RIFF header.
 * @returns format and data location, or null when more bytes are needed to reach the data chunk.
 * @throws WavError when the bytes are not a decodable WAV stream, or the data chunk precedes `fmt `.
 */
export function parseWavHeader(buf: Uint8Array): WavHeader | null {
  const scan = scanChunks(buf);
  if (scan.dataOffset < 0) return null;
  if (scan.fmt === null) {
    // Legal RIFF, but a stream reader cannot decode audio whose format arrives after it.
    throw new WavError('WAV data chunk precedes the fmt chunk; cannot decode it as a stream');
  }
  return { ...scan.fmt, dataOffset: scan.dataOffset, dataBytes: scan.dataBytes };
}

/**
 * Parses a complete WAV file. A data chunk that is a streaming placeholder, or that claims more bytes than
 * present (a truncated recording), is taken to run to the end of the buffer; a trailing partial frame is
 * dropped.
 * @param buf the whole file.
 * @returns format, mono PCM16 downmix and per-channel PCM16.
 * @throws WavError on malformed or unsupported input.
 */
export function parseWav(buf: Uint8Array): ParsedWav {
  const scan = scanChunks(buf);
  if (scan.fmtTruncated) throw new WavError('WAV is truncated inside its fmt chunk');
  if (scan.fmt === null) throw new WavError(buf.length < 12 ? 'WAV is truncated before its RIFF header ends' : 'WAV has no fmt chunk');
  if (scan.dataOffset < 0) throw new WavError('WAV has no data chunk');
  const available = buf.length - scan.dataOffset;
  const length = scan.dataBytes === null ? available : Math.min(scan.dataBytes, available);
  const channelData = decodeWavData(buf.subarray(scan.dataOffset, scan.dataOffset + length), scan.fmt);
  return { ...scan.fmt, samples: downmix(channelData), channelData };
}

/**
 * Decodes raw WAV sample data (whole frames only; a trailing partial frame is ignored, so a stream reader
 * should carry `data.length % format.blockAlign` bytes over to the next call).
 * @param data bytes from the data chunk.
 * @param format the stream's format.
 * @returns one PCM16 array per channel.
 */
export function decodeWavData(data: Uint8Array, format: WavFormat): Int16Array[] {
  const { channels, blockAlign, bitsPerSample } = format;
  const frames = Math.floor(data.length / blockAlign);
  const out: Int16Array[] = [];
  for (let c = 0; c < channels; c++) out.push(new Int16Array(frames));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPerSample = bitsPerSample / 8;
  for (let c = 0; c < channels; c++) {
    const dst = out[c]!;
    let p = c * bytesPerSample;
    if (format.format === 'mulaw' || format.format === 'alaw') {
      const bytes = new Uint8Array(frames);
      for (let i = 0; i < frames; i++, p += blockAlign) bytes[i] = data[p]!;
      if (format.format === 'mulaw') mulawDecode(bytes, dst);
      else alawDecode(bytes, dst);
    } else if (format.format === 'float') {
      for (let i = 0; i < frames; i++, p += blockAlign) {
        const f = bitsPerSample === 32 ? view.getFloat32(p, true) : view.getFloat64(p, true);
        const v = Math.round(f * 32768);
        dst[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v; // NaN rounds to NaN and stores as 0
      }
    } else if (bitsPerSample === 8) {
      for (let i = 0; i < frames; i++, p += blockAlign) dst[i] = (data[p]! - 128) << 8; // 8-bit WAV is unsigned
    } else if (bitsPerSample === 16) {
      for (let i = 0; i < frames; i++, p += blockAlign) dst[i] = view.getInt16(p, true);
    } else if (bitsPerSample === 24) {
      // Keep the top 16 of 24 bits (truncation; the lost bits are below int16 resolution).
      for (let i = 0; i < frames; i++, p += blockAlign) dst[i] = view.getInt16(p + 1, true);
    } else {
      for (let i = 0; i < frames; i++, p += blockAlign) dst[i] = view.getInt16(p + 2, true);
    }
  }
  return out;
}

function downmix(channelData: Int16Array[]): Int16Array {
  if (channelData.length === 1) return channelData[0]!;
  const frames = channelData[0]!.length;
  const out = new Int16Array(frames);
  const n = channelData.length;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < n; c++) sum += channelData[c]![i]!;
    out[i] = Math.round(sum / n);
  }
  return out;
}

/**
 * Encodes 16-bit PCM WAV with a canonical 44-byte header, interleaving channels.
 * @param input rate and per-channel samples (equal lengths).
 * @returns the file bytes.
 * @throws RangeError for zero channels, unequal channel lengths, or an invalid rate.
 */
export function encodeWav(input: EncodeWavInput): Buffer {
  const { sampleRateHz, channels } = input;
  const channelCount = channels.length;
  if (channelCount < 1 || channelCount > 65535) throw new RangeError(`cannot write ${channelCount} channels`);
  if (!Number.isInteger(sampleRateHz) || sampleRateHz < 1) throw new RangeError(`invalid sample rate ${sampleRateHz}`);
  const frames = channels[0]!.length;
  for (const ch of channels) {
    if (ch.length !== frames) throw new RangeError('all channels must have the same number of samples');
  }
  const blockAlign = channelCount * 2;
  const dataBytes = frames * blockAlign;
  if (dataBytes > 0xffffffff - 36) throw new RangeError('audio too long for a RIFF WAV file');
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FORMAT_PCM, 20);
  out.writeUInt16LE(channelCount, 22);
  out.writeUInt32LE(sampleRateHz, 24);
  out.writeUInt32LE(sampleRateHz * blockAlign, 28);
  out.writeUInt16LE(blockAlign, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  for (let c = 0; c < channelCount; c++) {
    const ch = channels[c]!;
    for (let i = 0, p = 44 + c * 2; i < frames; i++, p += blockAlign) out.writeInt16LE(ch[i]!, p);
  }
  return out;
}

/**
 * Reads and parses a WAV file.
 * @param path file path.
 * @throws WavError on malformed content; fs errors as thrown by `readFile`.
 */
export async function readWavFile(path: string): Promise<ParsedWav> {
  return parseWav(await readFile(path));
}

/**
 * Writes 16-bit PCM WAV (see {@link encodeWav}).
 * @param path destination path (overwritten).
 * @param input rate and per-channel samples.
 */
export async function writeWavFile(path: string, input: EncodeWavInput): Promise<void> {
  await writeFile(path, encodeWav(input));
}
