/**
 * Process-wide pocketsphinx engine: a small pool of worker threads, each hosting warm decoders.
 *
 * A call acquires one decoder for its whole lifetime and releases it on hang-up; the decoder then stays
 * warm in the pool (ps_init costs ~300 ms and ~75-95 MB) for the next call. The total number of decoders
 * is capped; acquiring beyond the cap fails fast with `DecoderCapacityError` instead of queueing, so the
 * pipeline can fail over to another STT provider while the caller is still waiting.
 *
 * Fault isolation: a JS exception in one decoder's request fails only that request (see the worker).
 * If a worker thread dies, every handle it hosted fails its pending and future requests with a
 * ProviderError, and a fresh worker takes its slot. A native crash (segfault) inside libpocketsphinx
 * kills the whole process — threads cannot contain that.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ProviderError } from '../types.js';
import type {
  CreateResult,
  PocketsphinxModelPaths,
  PocketsphinxWorkerData,
  UtteranceResult,
  WorkerReply,
  WorkerRequest,
} from './pocketsphinx-worker.js';

export type { PocketsphinxModelPaths, UtteranceResult } from './pocketsphinx-worker.js';

const PROVIDER = 'pocketsphinx';
const MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export const DEFAULT_MODEL_PATHS: PocketsphinxModelPaths = {
  hmmDir: `${MODEL_DIR}/en-us`,
  lmPath: `${MODEL_DIR}/en-us.lm.bin`,
  dictPath: `${MODEL_DIR}/cmudict-en-us.dict`,
};

/** The installed en-us acoustic model is trained on 16 kHz (wideband) audio. */
export const DEFAULT_MODEL_SAMPLE_RATE_HZ = 16000;

/**
 * Initial cepstral means for narrowband (≤ 8 kHz, e.g. telephone) audio upsampled into the default en-us
 * 16 kHz model. Live CMN starts from the model's -cmninit, which fits wideband microphones; for
 * band-limited audio it is so far off that first utterances decode as nonsense until CMN adapts
 * (measured on held-out audio: flite sentences at 8 kHz WER 0.80-0.97 → 0.13-0.46; goforward at 8 kHz
 * "harvard and reread" → "go forward ten meters"). Derived as the mean of the live-CMN estimates of 62
 * recordings from /work/shared/data/speech (librivox, cards, forever, jfk resampled to 8 kHz and back;
 * fsdd_8k except speaker jackson, who is held out for tests) through this model's front end.
 */
export const EN_US_NARROWBAND_CMN_PRIOR: readonly number[] = [
  43.25, 28.69, -35.8, 42.28, -20.4, -4.77, 9.46, -29.03, 14.56, -12.89, -3.88, 5.87, -11.29,
];

/**
 * Bound on a graceful shutdown: freeing decoders takes milliseconds, but a worker stuck in a long
 * native call must not hold engine.close() (and process shutdown) hostage; after this we terminate.
 */
const SHUTDOWN_TIMEOUT_MS = 2000;

export interface PocketsphinxEngineOptions {
  /** Worker threads. Default max(1, availableParallelism - 1): leave a core for the media path. */
  readonly workerCount?: number;
  /** Cap on decoders across all workers (each ~75-95 MB RSS). Default 4 per worker. */
  readonly maxDecoders?: number;
  /** Model files; defaults to the Debian pocketsphinx-en-us package. */
  readonly models?: Partial<PocketsphinxModelPaths>;
  /**
   * Rate the acoustic model was trained at (-samprate); providers resample input to it. Default 16000.
   * Use 8000 only with an 8 kHz model (e.g. cmusphinx en-us-8khz): narrowband audio upsampled into the
   * 16 kHz model decodes much worse than wideband audio.
   */
  readonly modelSampleRateHz?: 8000 | 16000;
  /** Extra `-flag value` decoder arguments (e.g. ['-beam', '1e-60']). */
  readonly extraArgs?: readonly string[];
  /**
   * Initial CMN means used when the input is narrower band than the model (see EN_US_NARROWBAND_CMN_PRIOR,
   * the default for the default model; with other models the default is null = model's own -cmninit).
   */
  readonly narrowbandCmnPrior?: readonly number[] | null;
}

/** Thrown by acquire() when all `maxDecoders` decoders are in use; retryable (like an HTTP 429). */
export class DecoderCapacityError extends ProviderError {
  constructor(readonly maxDecoders: number) {
    super(PROVIDER, `all ${maxDecoders} decoders are in use (raise maxDecoders or add capacity)`, true);
    this.name = 'DecoderCapacityError';
  }
}

/** One call's exclusive lease on a decoder. Use one utterance at a time: start → feed* → end|cancel. */
export interface DecoderHandle {
  readonly decoderId: number;
  /** ps_init wall time of this decoder (it may have been created for an earlier call). */
  readonly initMs: number;
  readonly rssDeltaBytes: number;
  /** False once released or once its worker died; a caller holding it should lease another. */
  readonly usable: boolean;
  /**
   * Opens an utterance. `inputRateHz` (the caller's audio rate before resampling) picks the starting
   * cepstral-mean estimate: the first utterance of every lease, and any utterance whose band differs
   * from the previous one, starts from the prior for its band, so nothing of an earlier call's channel
   * carries over; later utterances keep the estimate adapted to this call's channel.
   */
  startUtterance(o?: { inputRateHz?: number }): void;
  /**
   * Queues PCM16 samples at the engine's modelSampleRateHz. With `transfer`, the samples' buffer is moved to the
   * worker (zero-copy) and detached here — only pass buffers you own that the view spans exactly.
   */
  feed(samples: Int16Array, o?: { transfer?: boolean }): void;
  /** Hypothesis for the audio fed so far (raw, may include fillers). */
  partial(): Promise<string>;
  endUtterance(): Promise<UtteranceResult>;
  /** Abandons the open utterance (no hypothesis); the decoder stays usable. */
  cancelUtterance(): Promise<void>;
  /** Returns the decoder to the pool. Idempotent; any open utterance is discarded. */
  release(): void;
}

export interface EngineStats {
  readonly workers: number;
  readonly decoders: number;
  readonly inUse: number;
  readonly idle: number;
  readonly maxDecoders: number;
}

interface Pending {
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: Error) => void;
}

type DecoderState = 'idle' | 'busy' | 'dead';

interface DecoderRecord {
  readonly id: number;
  readonly slot: WorkerSlot;
  readonly created: CreateResult;
  state: DecoderState;
  /** Lease counter: a handle only acts while its lease is the record's current one. */
  lease: number;
}

class WorkerSlot {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  readonly decoders = new Set<DecoderRecord>();
  /** Decoders being created on this slot (count toward the cap and the slot's load). */
  creating = 0;
  alive = true;
  deathReason = '';

  constructor(workerUrl: URL, data: PocketsphinxWorkerData) {
    this.worker = startWorker(workerUrl, data);
    // Idle workers must not keep the process alive; request() refs while replies are outstanding.
    this.worker.unref();
  }

  get busyCount(): number {
    let n = this.creating;
    for (const d of this.decoders) if (d.state === 'busy') n++;
    return n;
  }
}

function startWorker(url: URL, data: PocketsphinxWorkerData): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: data });
  // Under tests (tsx): Node 20 workers do not get tsx's loader hooks even though `--import tsx` is in
  // their execArgv (privatenumber/tsx#354), so a bootstrap registers tsx before importing the .ts file.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

let nextReqId = 1;
let nextDecoderId = 1;

export class PocketsphinxEngine {
  readonly modelSampleRateHz: number;
  private readonly workerCount: number;
  private readonly maxDecoders: number;
  private readonly workerData: PocketsphinxWorkerData;
  private readonly workerUrl: URL;
  private readonly narrowbandCmnPrior: readonly number[] | null;
  private readonly slots: WorkerSlot[] = [];
  private closed = false;

  constructor(o: PocketsphinxEngineOptions = {}) {
    this.workerCount = Math.max(1, Math.floor(o.workerCount ?? os.availableParallelism() - 1));
    this.maxDecoders = Math.max(1, Math.floor(o.maxDecoders ?? this.workerCount * 4));
    this.modelSampleRateHz = o.modelSampleRateHz ?? DEFAULT_MODEL_SAMPLE_RATE_HZ;
    const defaultModel = (o.models?.hmmDir ?? DEFAULT_MODEL_PATHS.hmmDir) === DEFAULT_MODEL_PATHS.hmmDir;
    this.narrowbandCmnPrior =
      o.narrowbandCmnPrior !== undefined ? o.narrowbandCmnPrior : defaultModel && this.modelSampleRateHz === 16000 ? EN_US_NARROWBAND_CMN_PRIOR : null;
    this.workerData = {
      models: { ...DEFAULT_MODEL_PATHS, ...o.models },
      sampleRateHz: this.modelSampleRateHz,
      extraArgs: [...(o.extraArgs ?? [])],
    };
    // Tests run the TypeScript sources through tsx (inherited via execArgv); production runs dist/*.js.
    this.workerUrl = new URL('./pocketsphinx-worker' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);
  }

  /** Leases a decoder: a warm idle one if any, else a new one (rejects with DecoderCapacityError at the cap). */
  async acquire(): Promise<DecoderHandle> {
    if (this.closed) throw new ProviderError(PROVIDER, 'engine is closed', false);
    const idle = this.pickIdle();
    if (idle) return this.lease(idle);
    if (this.totalDecoders() >= this.maxDecoders) throw new DecoderCapacityError(this.maxDecoders);
    const slot = this.pickSlotForCreate();
    const id = nextDecoderId++;
    slot.creating++;
    let created: CreateResult;
    try {
      created = (await this.request(slot, { op: 'create', reqId: nextReqId++, decoderId: id })) as CreateResult;
    } finally {
      slot.creating--;
    }
    const record: DecoderRecord = { id, slot, created, state: 'idle', lease: 0 };
    if (!slot.alive) throw this.deadError(slot);
    slot.decoders.add(record);
    if (this.closed) {
      this.post(slot, { op: 'free', reqId: nextReqId++, decoderId: id });
      throw new ProviderError(PROVIDER, 'engine closed while creating a decoder', false);
    }
    return this.lease(record);
  }

  /** Pre-creates idle decoders (up to the cap) so the first calls don't pay ps_init latency. */
  async warm(count: number): Promise<void> {
    const handles = await Promise.all(
      Array.from({ length: Math.min(count, this.maxDecoders - this.totalDecoders()) }, () => this.acquire()),
    );
    for (const h of handles) h.release();
  }

  stats(): EngineStats {
    let decoders = 0;
    let inUse = 0;
    for (const s of this.slots)
      for (const d of s.decoders) {
        decoders++;
        if (d.state === 'busy') inUse++;
      }
    return { workers: this.slots.length, decoders, inUse, idle: decoders - inUse, maxDecoders: this.maxDecoders };
  }

  /** Frees all decoders and stops the workers. Outstanding handles fail afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.alive) {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<void>((r) => (timer = setTimeout(r, SHUTDOWN_TIMEOUT_MS)));
          await Promise.race([this.request(slot, { op: 'shutdown', reqId: nextReqId++ }).catch(() => {}), timeout]);
          clearTimeout(timer);
        }
        this.markDead(slot, 'engine closed');
        await slot.worker.terminate();
      }),
    );
    this.slots.length = 0;
  }

  /** Fault injection for tests and operators: kills the worker hosting `handle`, as a crash would. */
  async killWorkerOf(handle: DecoderHandle): Promise<void> {
    const slot = this.slots.find((s) => [...s.decoders].some((d) => d.id === handle.decoderId));
    if (slot) await slot.worker.terminate();
  }

  // ---------- internals ----------

  private totalDecoders(): number {
    let n = 0;
    for (const s of this.slots) n += s.decoders.size + s.creating;
    return n;
  }

  /** Idle decoder on the least-loaded live worker, so concurrent calls spread across cores. */
  private pickIdle(): DecoderRecord | undefined {
    let best: DecoderRecord | undefined;
    let bestLoad = Infinity;
    for (const s of this.slots) {
      if (!s.alive) continue;
      const load = s.busyCount;
      for (const d of s.decoders)
        if (d.state === 'idle' && load < bestLoad) {
          best = d;
          bestLoad = load;
          break;
        }
    }
    return best;
  }

  private pickSlotForCreate(): WorkerSlot {
    const live = this.slots.filter((s) => s.alive);
    // Grow the pool lazily: a new worker beats stacking a ~300 ms ps_init onto a worker serving calls.
    if (live.length < this.workerCount && live.every((s) => s.busyCount > 0)) return this.spawn();
    let best = live[0];
    for (const s of live) if (best && s.busyCount < best.busyCount) best = s;
    return best ?? this.spawn();
  }

  private spawn(): WorkerSlot {
    const slot = new WorkerSlot(this.workerUrl, this.workerData);
    this.slots.push(slot);
    slot.worker.on('message', (r: WorkerReply) => {
      const p = slot.pending.get(r.reqId);
      if (!p) return;
      slot.pending.delete(r.reqId);
      if (slot.pending.size === 0) slot.worker.unref();
      if (r.ok) p.resolve(r.result);
      else p.reject(new ProviderError(PROVIDER, r.error, false));
    });
    slot.worker.on('error', (err) => this.onWorkerDeath(slot, `worker error: ${err.message}`));
    slot.worker.on('exit', (code) => this.onWorkerDeath(slot, `worker exited (code ${code})`));
    return slot;
  }

  private onWorkerDeath(slot: WorkerSlot, reason: string): void {
    if (!slot.alive) return;
    this.markDead(slot, reason);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    // Replacement is lazy: pickSlotForCreate spawns a fresh worker when a decoder is next needed.
  }

  private markDead(slot: WorkerSlot, reason: string): void {
    if (!slot.alive) return;
    slot.alive = false;
    slot.deathReason = reason;
    for (const d of slot.decoders) d.state = 'dead';
    slot.decoders.clear();
    const err = this.deadError(slot);
    for (const p of slot.pending.values()) p.reject(err);
    slot.pending.clear();
  }

  private deadError(slot: WorkerSlot): ProviderError {
    return new ProviderError(PROVIDER, `decoder worker is gone (${slot.deathReason})`, true);
  }

  private post(slot: WorkerSlot, msg: WorkerRequest, transfer?: ArrayBuffer[]): void {
    if (!slot.alive) throw this.deadError(slot);
    slot.worker.postMessage(msg, transfer);
  }

  private request(slot: WorkerSlot, msg: WorkerRequest & { reqId: number }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (!slot.alive) return reject(this.deadError(slot));
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(msg.reqId, { resolve, reject });
      slot.worker.postMessage(msg);
    });
  }

  private lease(record: DecoderRecord): DecoderHandle {
    record.state = 'busy';
    const lease = ++record.lease;
    const { slot, id } = record;
    let utteranceOpen = false;
    let band: 'narrow' | 'wide' | undefined; // CMN prior in effect for this lease; undefined = not yet set
    const check = (): void => {
      if (record.state === 'dead') throw this.deadError(slot);
      if (record.lease !== lease || record.state !== 'busy')
        throw new ProviderError(PROVIDER, `decoder ${id} used after release`, false);
    };
    return {
      decoderId: id,
      initMs: record.created.initMs,
      rssDeltaBytes: record.created.rssDeltaBytes,
      get usable() {
        return record.lease === lease && record.state === 'busy';
      },
      startUtterance: (o) => {
        check();
        utteranceOpen = true;
        const next = o?.inputRateHz !== undefined && o.inputRateHz < this.modelSampleRateHz ? 'narrow' : 'wide';
        let cmnPrior: 'model' | readonly number[] | undefined;
        if (next !== band) cmnPrior = next === 'narrow' && this.narrowbandCmnPrior ? this.narrowbandCmnPrior : 'model';
        band = next;
        this.post(slot, { op: 'start', decoderId: id, ...(cmnPrior === undefined ? {} : { cmnPrior }) });
      },
      feed: (samples, o) => {
        check();
        const { buffer } = samples;
        const owned =
          o?.transfer === true &&
          buffer instanceof ArrayBuffer &&
          samples.byteOffset === 0 &&
          samples.byteLength === buffer.byteLength;
        // Otherwise copy once into a buffer we own, then transfer that (no second copy by postMessage).
        const pcm = owned ? buffer : samples.slice().buffer;
        this.post(slot, { op: 'feed', decoderId: id, pcm }, [pcm]);
      },
      // async: a failed check() becomes a rejection, like every other failure of these calls.
      partial: async () => {
        check();
        return (await this.request(slot, { op: 'partial', reqId: nextReqId++, decoderId: id })) as string;
      },
      endUtterance: async () => {
        check();
        utteranceOpen = false;
        return (await this.request(slot, { op: 'end', reqId: nextReqId++, decoderId: id })) as UtteranceResult;
      },
      cancelUtterance: async () => {
        check();
        utteranceOpen = false;
        await this.request(slot, { op: 'reset', reqId: nextReqId++, decoderId: id });
      },
      release: () => {
        if (record.lease !== lease || record.state !== 'busy') return;
        record.lease++; // invalidates this handle
        // Worker processes messages in order, so the reset lands before the next lessee's start.
        if (utteranceOpen) this.post(slot, { op: 'reset', reqId: nextReqId++, decoderId: id });
        record.state = 'idle';
      },
    };
  }
}
