/**
 * Helpers for raw signed 16-bit little-endian PCM, the lingua franca between transports, files and providers.
 */
import { endianness } from 'node:os';

/** Typed arrays use host byte order; every supported Node target is little-endian, but stay correct if not. */
const HOST_IS_LE = endianness() === 'LE';

/** dBFS reported for digital silence (and the floor for anything quieter). */
export const SILENCE_DBFS = -100;

/**
 * Interprets little-endian PCM16 bytes as samples.
 *
 * Zero-copy when possible: if `buf` starts on an even byte offset the result is a view sharing `buf`'s memory
 * (so do not reuse `buf` afterwards); otherwise, or on a big-endian host, the bytes are copied. A trailing odd
 * byte (half a sample) is ignored.
 * @param buf PCM16LE bytes.
 * @returns the samples.
 */
export function pcm16FromBytesLE(buf: Uint8Array): Int16Array {
  const count = buf.length >> 1;
  if (HOST_IS_LE && (buf.byteOffset & 1) === 0) {
    return new Int16Array(buf.buffer, buf.byteOffset, count);
  }
  const out = new Int16Array(count);
  for (let i = 0, j = 0; i < count; i++, j += 2) {
    out[i] = (buf[j]! | (buf[j + 1]! << 8)) << 16 >> 16;
  }
  return out;
}

/**
 * Serialises samples as little-endian PCM16 bytes.
 *
 * Zero-copy on little-endian hosts: the Buffer is a view of `samples`' memory, so treat both as immutable
 * afterwards (frames already are).
 * @param samples PCM16 samples.
 * @returns a Buffer of `2 * samples.length` bytes.
 */
export function pcm16ToBytesLE(samples: Int16Array): Buffer {
  if (HOST_IS_LE) return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  const out = Buffer.allocUnsafe(samples.byteLength);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, i * 2);
  return out;
}

/**
 * Root-mean-square level in dBFS, relative to a full-scale square wave (RMS 32768), so a full-scale sine
 * reads about -3.01 dBFS.
 * @param samples PCM16 samples.
 * @returns the level in dBFS, never below {@link SILENCE_DBFS} (which is also returned for empty input).
 */
export function rmsDbfs(samples: Int16Array): number {
  const n = samples.length;
  if (n === 0) return SILENCE_DBFS;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const s = samples[i]!;
    sumSquares += s * s;
  }
  return meanSquareToDbfs(sumSquares / n);
}

/**
 * Converts a mean square (in int16 units squared) to dBFS, clamped to {@link SILENCE_DBFS}.
 * @param meanSquare mean of squared sample values.
 * @returns the level in dBFS.
 */
export function meanSquareToDbfs(meanSquare: number): number {
  if (!(meanSquare > 0)) return SILENCE_DBFS;
  const db = 10 * Math.log10(meanSquare / (32768 * 32768));
  return db < SILENCE_DBFS ? SILENCE_DBFS : db;
}

/**
 * Concatenates sample arrays into one new array.
 * @param parts arrays to join, in order.
 * @returns a new array holding all samples.
 */
export function concatPcm16(parts: readonly Int16Array[]): Int16Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Int16Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Digital silence.
 * @param durationMs length in milliseconds (rounded to the nearest whole sample).
 * @param sampleRateHz sample rate.
 * @returns zero-valued samples.
 */
export function silence(durationMs: number, sampleRateHz: number): Int16Array {
  if (!(durationMs >= 0) || !(sampleRateHz > 0)) {
    throw new RangeError(`invalid silence request: ${durationMs} ms at ${sampleRateHz} Hz`);
  }
  return new Int16Array(Math.round((durationMs * sampleRateHz) / 1000));
}
