/**
 * Worker thread that owns a set of pocketsphinx decoders (libpocketsphinx.so.3, 5prealpha API, via koffi).
 *
 * Why a worker: ps_init (~300 ms) and ps_process_raw (~3 ms per 20 ms chunk) are synchronous native calls;
 * running them on the main thread would stall every call's media path. One worker serves many decoders,
 * strictly one native call at a time, so decoders in the same worker never run concurrently and may share
 * the read-only n-gram language model (saves ~20 MB per decoder).
 *
 * Protocol: the engine posts `WorkerRequest`s; only requests carrying a `reqId` get a `WorkerReply`.
 * `start` and `feed` are fire-and-forget for throughput; a failure in either is remembered on the
 * decoder and reported by its next `partial` or `end`. An exception in one decoder's request is caught
 * and reported for that decoder only — it never takes down the worker or the other decoders.
 */
import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';

// ---------- protocol (imported as types by pocketsphinx-engine.ts) ----------

export interface PocketsphinxModelPaths {
  /** Acoustic model directory (-hmm). */
  readonly hmmDir: string;
  /** N-gram language model (-lm), binary or ARPA. */
  readonly lmPath: string;
  /** Pronunciation dictionary (-dict). */
  readonly dictPath: string;
}

export interface PocketsphinxWorkerData {
  readonly models: PocketsphinxModelPaths;
  /** Sample rate the acoustic model expects (-samprate). */
  readonly sampleRateHz: number;
  /** Extra `-flag value` pairs appended to the decoder configuration. */
  readonly extraArgs: readonly string[];
}

export type WorkerRequest =
  | { readonly op: 'create'; readonly reqId: number; readonly decoderId: number }
  /**
   * Opens an utterance. `cmnPrior` first resets cepstral mean normalisation: 'model' to the model's own
   * initial means, or explicit means (one per cepstral coefficient); absent keeps the adapted state.
   */
  | { readonly op: 'start'; readonly decoderId: number; readonly cmnPrior?: 'model' | readonly number[] }
  /** `pcm` holds PCM16 samples at the model rate; the buffer is transferred, not copied. */
  | { readonly op: 'feed'; readonly decoderId: number; readonly pcm: ArrayBuffer }
  | { readonly op: 'partial'; readonly reqId: number; readonly decoderId: number }
  | { readonly op: 'end'; readonly reqId: number; readonly decoderId: number }
  /** Abandons any open utterance without computing a hypothesis; leaves the decoder ready for reuse. */
  | { readonly op: 'reset'; readonly reqId: number; readonly decoderId: number }
  | { readonly op: 'free'; readonly reqId: number; readonly decoderId: number }
  /** Frees every decoder and the shared LM so the worker can be terminated without leaking native memory. */
  | { readonly op: 'shutdown'; readonly reqId: number };

export interface CreateResult {
  readonly initMs: number;
  /** Growth of the process RSS across ps_init; approximate if other threads allocate meanwhile. */
  readonly rssDeltaBytes: number;
}

export interface UtteranceResult {
  /** Raw pocketsphinx hypothesis (may contain filler tokens); '' when nothing was recognised. */
  readonly text: string;
  /** Path score from ps_get_hyp (log domain, more negative = worse). */
  readonly score: number;
  readonly audioMs: number;
  /** Wall time spent inside ps_process_raw for this utterance. */
  readonly processMs: number;
  /** Number of feed messages processed. */
  readonly chunks: number;
}

export type WorkerReply =
  | { readonly reqId: number; readonly ok: true; readonly result: unknown }
  | { readonly reqId: number; readonly ok: false; readonly error: string };

// ---------- native bindings ----------

interface Native {
  readonly psArgs: () => bigint;
  readonly cmdLnParse: (inout: null, defn: bigint, argc: number, argv: string[], strict: number) => bigint | null;
  readonly cmdLnFree: (config: bigint) => number;
  readonly psInit: (config: bigint) => bigint | null;
  readonly psFree: (ps: bigint) => number;
  readonly psStartUtt: (ps: bigint) => number;
  readonly psProcessRaw: (ps: bigint, data: Int16Array, nSamples: number, noSearch: number, fullUtt: number) => number;
  readonly psEndUtt: (ps: bigint) => number;
  readonly psGetHyp: (ps: bigint, score: number[]) => string | null;
  readonly psGetLm: (ps: bigint, name: string) => bigint | null;
  readonly psSetLm: (ps: bigint, name: string, lm: bigint) => number;
  readonly psSetSearch: (ps: bigint, name: string) => number;
  readonly lmRetain: (lm: bigint) => bigint;
  readonly lmFree: (lm: bigint) => number;
  readonly errSetLogfp: (fp: null) => void;
  readonly psGetFeat: (ps: bigint) => bigint | null;
  readonly cmnLiveGet: (cmn: bigint, out: Float32Array) => void;
  readonly cmnLiveSet: (cmn: bigint, vec: Float32Array) => void;
}

/**
 * Leading fields of sphinxbase's public `feat_t` (feat.h), up to `cmn_struct`: 5prealpha has no accessor
 * for the live-CMN state, and we need it to reset that state between calls. Layout checked at runtime
 * (cepsize must equal cmn_t.veclen) before it is trusted.
 */
const FeatPrefix = koffi.struct('ps_feat_prefix', {
  refcount: 'int',
  name: 'char*',
  cepsize: 'int32',
  n_stream: 'int32',
  stream_len: 'void*',
  window_size: 'int32',
  n_sv: 'int32',
  sv_len: 'void*',
  subvecs: 'void*',
  sv_buf: 'void*',
  sv_dim: 'int32',
  cmn: 'int',
  varnorm: 'int32',
  agc: 'int',
  compute_feat: 'void*',
  cmn_struct: 'void*',
});

/** sphinxbase `cmn_t` (cmn.h). */
const CmnStruct = koffi.struct('ps_cmn_t', {
  cmn_mean: 'void*',
  cmn_var: 'void*',
  sum: 'void*',
  nframe: 'int32',
  veclen: 'int32',
});

function bindNative(): Native {
  const ps = koffi.load('libpocketsphinx.so.3');
  const sb = koffi.load('libsphinxbase.so.3');
  return {
    psArgs: ps.func('void* ps_args(void)'),
    // cmd_ln_parse_r with an argv array avoids calling the variadic cmd_ln_init through FFI.
    cmdLnParse: sb.func('void* cmd_ln_parse_r(void* inout, void* defn, int argc, const char** argv, int strict)'),
    cmdLnFree: sb.func('int cmd_ln_free_r(void* config)'),
    psInit: ps.func('void* ps_init(void* config)'),
    psFree: ps.func('int ps_free(void* ps)'),
    psStartUtt: ps.func('int ps_start_utt(void* ps)'),
    psProcessRaw: ps.func('int ps_process_raw(void* ps, const int16_t* data, size_t n, int no_search, int full_utt)'),
    psEndUtt: ps.func('int ps_end_utt(void* ps)'),
    psGetHyp: ps.func('const char* ps_get_hyp(void* ps, _Out_ int32_t* score)'),
    psGetLm: ps.func('void* ps_get_lm(void* ps, const char* name)'),
    psSetLm: ps.func('int ps_set_lm(void* ps, const char* name, void* lm)'),
    psSetSearch: ps.func('int ps_set_search(void* ps, const char* name)'),
    lmRetain: sb.func('void* ngram_model_retain(void* lm)'),
    lmFree: sb.func('int ngram_model_free(void* lm)'),
    errSetLogfp: sb.func('void err_set_logfp(void* fp)'),
    psGetFeat: ps.func('void* ps_get_feat(void* ps)'),
    // mfcc_t is float in Debian's (non-FIXED_POINT) sphinxbase build.
    cmnLiveGet: sb.func('void cmn_live_get(void* cmn, _Out_ float* vec)'),
    cmnLiveSet: sb.func('void cmn_live_set(void* cmn, const float* vec)'),
  };
}

// ---------- decoder state ----------

/** Name pocketsphinx gives the search built from -lm; reused for the shared LM. */
const DEFAULT_SEARCH = '_default';

interface LiveCmn {
  readonly cmn: bigint;
  /** The model's initial means (-cmninit), captured right after ps_init. */
  readonly initial: Float32Array;
}

/** Finds the decoder's live-CMN state, or undefined if the layout does not check out (then CMN is left alone). */
function locateCmn(native: Native, ps: bigint): LiveCmn | undefined {
  const feat = native.psGetFeat(ps);
  if (!feat) return undefined;
  const prefix = koffi.decode(feat, FeatPrefix) as { cepsize: number; cmn_struct: bigint | null };
  if (!prefix.cmn_struct || prefix.cepsize < 1 || prefix.cepsize > 64) return undefined;
  const cmn = koffi.decode(prefix.cmn_struct, CmnStruct) as { veclen: number };
  if (cmn.veclen !== prefix.cepsize) return undefined;
  const initial = new Float32Array(cmn.veclen);
  native.cmnLiveGet(prefix.cmn_struct, initial);
  return { cmn: prefix.cmn_struct, initial };
}

interface Decoder {
  readonly ps: bigint;
  readonly liveCmn: LiveCmn | undefined;
  inUtterance: boolean;
  /** First failure since the utterance started; reported by the next partial/end. */
  error: string | undefined;
  audioSamples: number;
  processMs: number;
  chunks: number;
}

class DecoderHost {
  private readonly decoders = new Map<number, Decoder>();
  /** LM loaded by this worker's first decoder and shared (ref-counted) by the rest. */
  private sharedLm: bigint | undefined;

  constructor(
    private readonly native: Native,
    private readonly data: PocketsphinxWorkerData,
  ) {}

  create(decoderId: number): CreateResult {
    if (this.decoders.has(decoderId)) throw new Error(`decoder ${decoderId} already exists`);
    const { models, sampleRateHz, extraArgs } = this.data;
    const argv = ['-hmm', models.hmmDir, '-dict', models.dictPath, '-samprate', String(sampleRateHz), ...extraArgs];
    if (this.sharedLm === undefined) argv.push('-lm', models.lmPath);
    const rssBefore = process.memoryUsage.rss();
    const t0 = performance.now();
    const config = this.native.cmdLnParse(null, this.native.psArgs(), argv.length, argv, 1);
    if (!config) throw new Error(`invalid decoder configuration: ${argv.join(' ')}`);
    // ps_init retains the config, so our reference is dropped whatever happens next.
    const ps = this.native.psInit(config);
    this.native.cmdLnFree(config);
    if (!ps) throw new Error(`ps_init failed (check model paths: ${models.hmmDir}, ${models.dictPath}, ${models.lmPath})`);
    try {
      if (this.sharedLm === undefined) {
        const lm = this.native.psGetLm(ps, DEFAULT_SEARCH);
        if (lm) this.sharedLm = this.native.lmRetain(lm);
      } else if (
        this.native.psSetLm(ps, DEFAULT_SEARCH, this.sharedLm) < 0 ||
        this.native.psSetSearch(ps, DEFAULT_SEARCH) < 0
      ) {
        throw new Error('attaching the shared language model failed');
      }
    } catch (err) {
      this.native.psFree(ps);
      throw err;
    }
    const initMs = performance.now() - t0;
    const liveCmn = locateCmn(this.native, ps);
    this.decoders.set(decoderId, { ps, liveCmn, inUtterance: false, error: undefined, audioSamples: 0, processMs: 0, chunks: 0 });
    return { initMs, rssDeltaBytes: process.memoryUsage.rss() - rssBefore };
  }

  start(decoderId: number, cmnPrior: 'model' | readonly number[] | undefined): void {
    const d = this.get(decoderId);
    if (d.inUtterance) this.native.psEndUtt(d.ps); // defensive: never leave a stale utterance open
    if (cmnPrior !== undefined && d.liveCmn) {
      const { cmn, initial } = d.liveCmn;
      // A prior of the wrong length would make sphinxbase read past it; fall back to the model's.
      const vec = cmnPrior === 'model' || cmnPrior.length !== initial.length ? initial : Float32Array.from(cmnPrior);
      this.native.cmnLiveSet(cmn, vec);
    }
    d.inUtterance = false;
    d.error = undefined;
    d.audioSamples = 0;
    d.processMs = 0;
    d.chunks = 0;
    if (this.native.psStartUtt(d.ps) < 0) d.error = 'ps_start_utt failed';
    else d.inUtterance = true;
  }

  feed(decoderId: number, pcm: ArrayBuffer): void {
    const d = this.get(decoderId);
    if (d.error !== undefined) return;
    if (!d.inUtterance) {
      d.error = 'audio fed outside an utterance';
      return;
    }
    const samples = new Int16Array(pcm);
    if (samples.length === 0) return;
    const t0 = performance.now();
    const rc = this.native.psProcessRaw(d.ps, samples, samples.length, 0, 0);
    d.processMs += performance.now() - t0;
    d.chunks += 1;
    d.audioSamples += samples.length;
    if (rc < 0) d.error = `ps_process_raw failed (${rc})`;
  }

  partial(decoderId: number): string {
    const d = this.get(decoderId);
    if (d.error !== undefined) throw new Error(d.error);
    if (!d.inUtterance) return '';
    return this.native.psGetHyp(d.ps, [0]) ?? '';
  }

  end(decoderId: number): UtteranceResult {
    const d = this.get(decoderId);
    const wasIn = d.inUtterance;
    d.inUtterance = false;
    const failure = d.error;
    d.error = undefined;
    if (wasIn && this.native.psEndUtt(d.ps) < 0 && failure === undefined) throw new Error('ps_end_utt failed');
    if (failure !== undefined) throw new Error(failure);
    if (!wasIn) throw new Error('end without an open utterance');
    const score = [0];
    const text = this.native.psGetHyp(d.ps, score) ?? '';
    return {
      text,
      score: score[0] ?? 0,
      audioMs: (d.audioSamples * 1000) / this.data.sampleRateHz,
      processMs: d.processMs,
      chunks: d.chunks,
    };
  }

  reset(decoderId: number): void {
    const d = this.get(decoderId);
    if (d.inUtterance) this.native.psEndUtt(d.ps);
    d.inUtterance = false;
    d.error = undefined;
  }

  free(decoderId: number): void {
    const d = this.decoders.get(decoderId);
    if (!d) return;
    this.decoders.delete(decoderId);
    if (d.inUtterance) this.native.psEndUtt(d.ps);
    this.native.psFree(d.ps);
  }

  shutdown(): void {
    for (const id of [...this.decoders.keys()]) this.free(id);
    if (this.sharedLm !== undefined) this.native.lmFree(this.sharedLm);
    this.sharedLm = undefined;
  }

  private get(decoderId: number): Decoder {
    const d = this.decoders.get(decoderId);
    if (!d) throw new Error(`unknown decoder ${decoderId}`);
    return d;
  }
}

// ---------- message loop ----------

function run(): void {
  const port = parentPort;
  if (!port) throw new Error('pocketsphinx-worker must run as a worker thread');
  const native = bindNative();
  // Silence pocketsphinx's chatty INFO logging process-wide. Deliberately not `-logfn /dev/null`:
  // every ps_init would then swap and fclose() the global log FILE while decoders in other worker
  // threads may be writing to it.
  native.errSetLogfp(null);
  const host = new DecoderHost(native, workerData as PocketsphinxWorkerData);
  const reply = (r: WorkerReply): void => port.postMessage(r);

  port.on('message', (msg: WorkerRequest) => {
    switch (msg.op) {
      case 'start':
        return guard(() => host.start(msg.decoderId, msg.cmnPrior));
      case 'feed':
        return guard(() => host.feed(msg.decoderId, msg.pcm));
    }
    let result: unknown;
    try {
      switch (msg.op) {
        case 'create':
          result = host.create(msg.decoderId);
          break;
        case 'partial':
          result = host.partial(msg.decoderId);
          break;
        case 'end':
          result = host.end(msg.decoderId);
          break;
        case 'reset':
          host.reset(msg.decoderId);
          break;
        case 'free':
          host.free(msg.decoderId);
          break;
        case 'shutdown':
          host.shutdown();
          break;
      }
    } catch (err) {
      reply({ reqId: msg.reqId, ok: false, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    reply({ reqId: msg.reqId, ok: true, result });
  });
}

/** Fire-and-forget ops have no reply; an unknown decoder here is an engine bug, not worth dying for. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch {
    /* reported by the decoder's next partial/end (unknown decoder → that request fails too) */
  }
}

run();
