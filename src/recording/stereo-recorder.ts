/**
 * One call's stereo recording: 16-bit PCM WAV, caller on the left channel, agent on the right, at the
 * transport's rate, written to `<dataDir>/recordings/<tenantId>/<callId>.wav` while the call goes on.
 *
 * Timeline. The caller's inbound samples are the clock: the caller's n-th sample is at position n.
 * Agent audio is placed where the caller heard it: a frame handed to the transport starts at
 * max(current position, end of the agent audio queued before it), so a reply queued faster than real
 * time plays back to back; `clear` (barge-in) drops queued agent audio beyond the current position.
 * The file therefore holds what the caller heard, with silence where nobody spoke.
 *
 * Gaps. The recorder's own monotonic clock watches inbound arrival. If inbound audio stops while
 * time passes (a stalled stream), the "current position" for agent audio follows the wall clock
 * instead, and when inbound resumes the recorder tells lost audio (frames resume at real pace:
 * the caller channel gets the missing time as silence) from late audio (a burst catching up: the
 * frames fill the gap themselves). Either way the channels stay aligned to within about a frame.
 *
 * Memory. The caller channel is buffered for one write chunk (0.5 s); agent audio is held only
 * while it is queued ahead of the current position (the audio the transport itself still has
 * queued); resumed-after-gap frames wait at most ~0.1 s (1 s in a catch-up burst). Nothing grows
 * with the call's length. Writes are positional on one file handle, chained in order; the header
 * carries streaming placeholder sizes (0xFFFFFFFF: "read to the end", understood by
 * parseWav, ffmpeg and sox) until `close()` patches in the real sizes, so a file cut short by a
 * crash is still a playable WAV.
 *
 * Never throws into the call path: bad frames are dropped, and a failing disk abandons the
 * recording (logged; `close()` then resolves null and removes the partial file).
 */
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import type { AudioFrame } from '../audio/frame.js';
import { StreamingResampler } from '../audio/resampler.js';
import { encodeWav } from '../audio/wav.js';
import type { CallRecording } from '../store/types.js';

/** Folder under the data directory that holds every tenant's recordings. */
export const RECORDINGS_DIR = 'recordings';

/** Canonical WAV header size; audio data starts here. */
export const WAV_HEADER_BYTES = 44;
/** Stereo 16-bit: 4 bytes per sample frame. */
const BLOCK_ALIGN = 4;
/** RIFF sizes are 32-bit; the data chunk can hold at most this many sample frames. */
const MAX_DATA_FRAMES = Math.floor((0xffffffff - 36) / BLOCK_ALIGN);
/** Size written in the header until close: "unknown, read to the end". */
const STREAMING_SIZE = 0xffffffff;

/** Inbound arriving later than this (relative to its best arrival pace) is a suspected gap. */
const GAP_THRESHOLD_MS = 30;
/** A suspected gap is real (audio lost, not late) once post-gap frames keep the lag this long. */
const GAP_CONFIRM_MS = 100;
/** In a catch-up burst, frames held while deciding are released after this much audio. */
const MAX_PENDING_MS = 1_000;
/** No inbound for longer than this: agent audio is placed by the wall clock (stalled stream). */
const STALL_MS = 60;
/** Longest silence inserted for one gap; a longer real gap realigns only this much (logged). */
const MAX_GAP_PAD_MS = 30_000;
/** Default caller buffer = write granularity. */
const DEFAULT_CHUNK_MS = 500;
/** Writes not yet completed beyond this much audio: the disk cannot keep up; the recording is abandoned. */
const MAX_IN_FLIGHT_MS = 60_000;
/** Highest frame rate accepted (anything else is bad input and dropped). */
const MAX_RATE_HZ = 384_000;

const LITTLE_ENDIAN = endianness() === 'LE';
/** Ids become path segments: letters, digits, `_` and `-` only (no dots, no separators). */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** True when `id` can be used as a path segment of a recording path. */
export function isSafeRecordingId(id: string): boolean {
  return SAFE_ID.test(id);
}

/**
 * Where a call's recording lives relative to the data directory (what `CallRecording.path` stores),
 * built from stored ids only. Throws RangeError for an id that is not a safe path segment.
 */
export function recordingRelativePath(tenantId: string, callId: string): string {
  if (!isSafeRecordingId(tenantId) || !isSafeRecordingId(callId)) throw new RangeError('tenant or call id is not a safe path segment');
  return `${RECORDINGS_DIR}/${tenantId}/${callId}.wav`;
}

/** Absolute (or dataDir-relative) file path of a call's recording; see {@link recordingRelativePath}. */
export function recordingFilePath(dataDir: string, tenantId: string, callId: string): string {
  return join(dataDir, ...recordingRelativePath(tenantId, callId).split('/'));
}

export interface StereoRecorderLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface StereoRecorderOptions {
  readonly dataDir: string;
  readonly tenantId: string;
  readonly callId: string;
  /** The transport's rate; both channels are recorded at it. */
  readonly sampleRateHz: number;
  readonly log?: StereoRecorderLog;
  /** Monotonic milliseconds (default performance.now); only differences matter. */
  readonly now?: () => number;
  /** Caller buffer and write size, ms (default 500). */
  readonly chunkMs?: number;
}

/** What the recorder holds in memory right now (for tests and diagnostics). */
export interface RecorderBuffers {
  /** Caller samples not yet handed to the writer, including frames held while a gap is decided. */
  readonly callerSamples: number;
  /** Agent samples queued ahead of the written position. */
  readonly agentSamples: number;
  /** Bytes handed to the file but not yet written. */
  readonly inFlightBytes: number;
}

interface AgentSegment {
  /** Timeline position of samples[0]. */
  readonly start: number;
  samples: Int16Array;
}

/** Writes one call's stereo WAV; see the module comment for the alignment rules. */
export class StereoRecorder {
  readonly sampleRateHz: number;
  /** `recordings/<tenantId>/<callId>.wav`, relative to the data directory ('' if the ids were unusable). */
  readonly relativePath: string;
  readonly filePath: string;

  private readonly now: () => number;
  private readonly log: StereoRecorderLog | undefined;
  private readonly callId: string;
  private readonly samplesPerMs: number;
  private readonly gapThreshold: number;
  private readonly stallThreshold: number;
  private readonly maxPending: number;
  private readonly maxGapPad: number;
  private readonly maxInFlightBytes: number;

  /** Sample frames handed to the writer (both channels). */
  private written = 0;
  /** Caller samples of [written, written + callerLen). */
  private readonly caller: Int16Array;
  private callerLen = 0;
  /** Agent audio, ordered by start, never overlapping, none ending at or before `written`. */
  private segments: AgentSegment[] = [];
  private agentEnd = 0;

  /** Inbound pace: the frame ending at anchorPos arrived at anchorMs (the earliest-arriving frame so far). */
  private anchored = false;
  private anchorPos = 0;
  private anchorMs = 0;
  /** Frames received after a suspected gap, not yet placed. */
  private pending: Int16Array[] = [];
  private pendingSamples = 0;
  private pendingSinceMs = 0;
  private pendingMinLag = 0;

  private callerResampler: StreamingResampler | undefined;
  private agentResampler: StreamingResampler | undefined;

  private fh: FileHandle | undefined;
  private chain: Promise<void>;
  private inFlightBytes = 0;
  private failed = false;
  private full = false;
  private closing: Promise<CallRecording | null> | undefined;

  constructor(o: StereoRecorderOptions) {
    this.now = o.now ?? (() => performance.now());
    this.log = o.log;
    this.callId = o.callId;
    const rate = o.sampleRateHz;
    const rateOk = Number.isInteger(rate) && rate > 0 && rate <= MAX_RATE_HZ;
    this.sampleRateHz = rateOk ? rate : 8000;
    this.samplesPerMs = this.sampleRateHz / 1000;
    this.gapThreshold = GAP_THRESHOLD_MS * this.samplesPerMs;
    this.stallThreshold = STALL_MS * this.samplesPerMs;
    this.maxPending = MAX_PENDING_MS * this.samplesPerMs;
    this.maxGapPad = MAX_GAP_PAD_MS * this.samplesPerMs;
    this.maxInFlightBytes = MAX_IN_FLIGHT_MS * this.samplesPerMs * BLOCK_ALIGN;
    const chunkMs = o.chunkMs !== undefined && o.chunkMs >= 1 ? Math.min(o.chunkMs, 2_000) : DEFAULT_CHUNK_MS;
    this.caller = new Int16Array(Math.max(1, Math.round(chunkMs * this.samplesPerMs)));

    const safe = isSafeRecordingId(o.tenantId) && isSafeRecordingId(o.callId);
    this.relativePath = safe ? recordingRelativePath(o.tenantId, o.callId) : '';
    this.filePath = safe ? recordingFilePath(o.dataDir, o.tenantId, o.callId) : '';
    if (!rateOk || !safe) {
      this.chain = Promise.resolve();
      this.fail(new Error(!rateOk ? `invalid sample rate ${String(rate)}` : 'tenant or call id is not a safe path segment'));
      return;
    }
    this.chain = this.openFile().catch((err: unknown) => this.fail(err));
  }

  private async openFile(): Promise<void> {
    await mkdir(dirname(this.filePath), { recursive: true });
    const fh = await open(this.filePath, 'w');
    this.fh = fh;
    const header = encodeWav({ sampleRateHz: this.sampleRateHz, channels: [new Int16Array(0), new Int16Array(0)] });
    header.writeUInt32LE(STREAMING_SIZE, 4);
    header.writeUInt32LE(STREAMING_SIZE, 40);
    await fh.write(header, 0, WAV_HEADER_BYTES, 0);
  }

  /** Metadata of the recording as written so far (store it at call start so a crash leaves a findable file). */
  get metadata(): CallRecording {
    return {
      path: this.relativePath,
      bytes: WAV_HEADER_BYTES + this.written * BLOCK_ALIGN,
      durationMs: Math.round(this.written / this.samplesPerMs),
      sampleRateHz: this.sampleRateHz,
    };
  }

  get buffers(): RecorderBuffers {
    let agentSamples = 0;
    for (const s of this.segments) agentSamples += s.samples.length;
    return { callerSamples: this.callerLen + this.pendingSamples, agentSamples, inFlightBytes: this.inFlightBytes };
  }

  /** Resolves when every write issued so far has completed (or failed). */
  whenWritten(): Promise<void> {
    return this.chain;
  }

  private get accepting(): boolean {
    return !this.failed && !this.full && this.closing === undefined;
  }

  /** Caller position: samples placed on the left channel. */
  private get pos(): number {
    return this.written + this.callerLen;
  }

  // ---------- inbound (caller, left) ----------

  /** A frame of caller audio arrived (call it when the transport delivers it). */
  inbound(frame: AudioFrame): void {
    if (!this.accepting) return;
    try {
      const samples = this.toRecordingRate(frame, 'caller');
      if (samples === undefined || samples.length === 0) return;
      const t = this.now();
      const n = samples.length;
      if (!this.anchored) {
        this.anchored = true;
        this.appendCaller(samples);
        this.reanchor(t);
        return;
      }
      // How far behind its best arrival pace this frame is, if placed right after what was received.
      const lag = this.expectedPos(t) - (this.pos + this.pendingSamples + n);
      if (this.pendingSamples === 0) {
        if (lag <= this.gapThreshold) {
          this.appendCaller(samples);
          if (lag <= 0) this.reanchor(t);
          return;
        }
        this.pendingSinceMs = t;
        this.pendingMinLag = lag;
      } else {
        this.pendingMinLag = Math.min(this.pendingMinLag, lag);
      }
      this.pending.push(samples);
      this.pendingSamples += n;
      if (this.pendingMinLag <= this.gapThreshold) {
        // Late, not lost: the burst caught up with the clock; the frames fill the gap themselves.
        this.releasePending(0);
        if (lag <= 0) this.reanchor(t);
      } else if (t - this.pendingSinceMs >= GAP_CONFIRM_MS) {
        // Frames keep arriving at real pace but the lag stays: that much audio was lost.
        this.releasePending(Math.round(this.pendingMinLag));
        this.reanchor(t);
      } else if (this.pendingSamples >= this.maxPending) {
        // A long burst still catching up: what has arrived is late audio; keep deciding on the rest.
        this.releasePending(0);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private reanchor(t: number): void {
    this.anchorPos = this.pos + this.pendingSamples;
    this.anchorMs = t;
  }

  private expectedPos(t: number): number {
    return this.anchorPos + (t - this.anchorMs) * this.samplesPerMs;
  }

  private releasePending(pad: number): void {
    if (pad > this.maxGapPad) {
      this.log?.warn({ callId: this.callId, gapMs: Math.round(pad / this.samplesPerMs) }, 'recording: inbound gap longer than the realignment limit');
      pad = this.maxGapPad;
    }
    if (pad > 0) this.padCaller(pad);
    for (const p of this.pending) this.appendCaller(p);
    this.pending = [];
    this.pendingSamples = 0;
  }

  /**
   * The position the caller is hearing now: the inbound position, or — when inbound has not
   * kept up with the clock for longer than STALL_MS — where the clock says it is.
   */
  private currentPos(): number {
    const base = this.pos + this.pendingSamples;
    if (!this.anchored) return base;
    const expected = Math.round(this.expectedPos(this.now()));
    return expected - base > this.stallThreshold ? expected : base;
  }

  private appendCaller(samples: Int16Array): void {
    let offset = 0;
    while (offset < samples.length && this.accepting) {
      const n = Math.min(this.caller.length - this.callerLen, samples.length - offset);
      this.caller.set(samples.subarray(offset, offset + n), this.callerLen);
      this.callerLen += n;
      offset += n;
      if (this.callerLen === this.caller.length) this.flush();
    }
  }

  private padCaller(count: number): void {
    let left = count;
    while (left > 0 && this.accepting) {
      const n = Math.min(this.caller.length - this.callerLen, left);
      this.caller.fill(0, this.callerLen, this.callerLen + n);
      this.callerLen += n;
      left -= n;
      if (this.callerLen === this.caller.length) this.flush();
    }
  }

  // ---------- outbound (agent, right) ----------

  /** A frame was handed to the transport for playback. */
  outbound(frame: AudioFrame): void {
    if (!this.accepting) return;
    try {
      const samples = this.toRecordingRate(frame, 'agent');
      if (samples === undefined || samples.length === 0) return;
      const start = Math.max(this.currentPos(), this.agentEnd);
      this.segments.push({ start, samples });
      this.agentEnd = start + samples.length;
    } catch (err) {
      this.fail(err);
    }
  }

  /** The transport's queue was cleared (barge-in): agent audio not yet heard is dropped. */
  clear(): void {
    if (!this.accepting) return;
    try {
      this.truncateAgent(this.currentPos());
      // As the transport does: a new utterance starts with fresh resampler state.
      this.agentResampler = undefined;
    } catch (err) {
      this.fail(err);
    }
  }

  private truncateAgent(cut: number): void {
    const segs = this.segments;
    while (segs.length > 0) {
      const last = segs[segs.length - 1]!;
      if (last.start >= cut) {
        segs.pop();
        continue;
      }
      if (last.start + last.samples.length > cut) last.samples = last.samples.subarray(0, cut - last.start);
      break;
    }
    this.agentEnd = Math.min(this.agentEnd, cut);
  }

  private toRecordingRate(frame: AudioFrame, side: 'caller' | 'agent'): Int16Array | undefined {
    const samples: unknown = frame?.samples;
    if (!(samples instanceof Int16Array)) return undefined;
    const rate = frame.sampleRateHz;
    if (rate === this.sampleRateHz) return samples;
    if (!Number.isInteger(rate) || rate <= 0 || rate > MAX_RATE_HZ) return undefined;
    let r = side === 'caller' ? this.callerResampler : this.agentResampler;
    if (r === undefined || r.fromHz !== rate) {
      r = new StreamingResampler(rate, this.sampleRateHz);
      if (side === 'caller') this.callerResampler = r;
      else this.agentResampler = r;
    }
    return r.process(samples);
  }

  // ---------- writing ----------

  /** Interleaves the caller buffer with the agent audio of the same span and queues the write. */
  private flush(): void {
    let frames = this.callerLen;
    if (frames === 0) return;
    const room = MAX_DATA_FRAMES - this.written;
    if (frames >= room) {
      frames = room;
      this.full = true;
      this.log?.warn({ callId: this.callId }, 'recording: reached the WAV size limit; the rest of the call is not recorded');
    }
    const from = this.written;
    const to = from + frames;
    const out = new Int16Array(frames * 2);
    const caller = this.caller;
    for (let i = 0, j = 0; i < frames; i++, j += 2) out[j] = caller[i]!;
    const segs = this.segments;
    let consumed = 0;
    for (; consumed < segs.length; consumed++) {
      const s = segs[consumed]!;
      if (s.start >= to) break;
      const end = s.start + s.samples.length;
      const a = Math.max(s.start, from);
      const b = Math.min(end, to);
      const src = s.samples;
      for (let p = a, j = 2 * (a - from) + 1; p < b; p++, j += 2) out[j] = src[p - s.start]!;
      if (end > to) break;
    }
    if (consumed > 0) this.segments = segs.slice(consumed);
    this.written = to;
    this.callerLen = 0;
    this.write(out, WAV_HEADER_BYTES + from * BLOCK_ALIGN);
  }

  private write(samples: Int16Array, offset: number): void {
    const buf = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    if (!LITTLE_ENDIAN) buf.swap16();
    const bytes = buf.length;
    if (this.inFlightBytes + bytes > this.maxInFlightBytes) {
      this.fail(new Error('disk writes are falling behind the call'));
      return;
    }
    this.inFlightBytes += bytes;
    this.chain = this.chain
      .then(async () => {
        if (this.failed || this.fh === undefined) return;
        await this.fh.write(buf, 0, bytes, offset);
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        this.inFlightBytes -= bytes;
      });
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.segments = [];
    this.pending = [];
    this.pendingSamples = 0;
    this.callerLen = 0;
    this.log?.warn({ callId: this.callId, err: err instanceof Error ? err.message : String(err) }, 'recording abandoned');
  }

  // ---------- closing ----------

  /**
   * Ends the recording: places what is still buffered (agent audio up to the current position;
   * audio queued beyond it was never heard), patches the header and closes the file.
   * @returns the metadata to store on the call, or null when nothing was recorded or the
   *   recording failed (its partial file is removed). Idempotent.
   */
  close(): Promise<CallRecording | null> {
    if (this.closing === undefined) {
      if (!this.failed && !this.full) {
        try {
          this.releasePending(0);
          const end = Math.min(this.agentEnd, this.currentPos());
          if (end > this.pos) this.padCaller(end - this.pos);
          this.flush();
        } catch (err) {
          this.fail(err);
        }
      }
      this.segments = [];
      this.closing = this.finish();
    }
    return this.closing;
  }

  private async finish(): Promise<CallRecording | null> {
    await this.chain;
    const fh = this.fh;
    this.fh = undefined;
    if (this.failed || this.written === 0 || fh === undefined) {
      await fh?.close().catch(() => undefined);
      if (this.filePath !== '') await unlink(this.filePath).catch(() => undefined);
      return null;
    }
    const dataBytes = this.written * BLOCK_ALIGN;
    try {
      const sizes = Buffer.alloc(4);
      sizes.writeUInt32LE(36 + dataBytes, 0);
      await fh.write(sizes, 0, 4, 4);
      sizes.writeUInt32LE(dataBytes, 0);
      await fh.write(sizes, 0, 4, 40);
    } catch (err) {
      // The placeholder sizes stay: still a valid WAV that readers take to run to the end.
      this.log?.warn({ callId: this.callId, err: (err as Error).message }, 'recording: could not patch the WAV header');
    }
    await fh.close().catch(() => undefined);
    return this.metadata;
  }
}
