/**
 * Echo suppression against the outbound reference, for one call.
 *
 * On a speakerphone the agent's own audio comes back in the caller's inbound stream, 60–300 ms later and
 * attenuated; fed to the VAD it looks like the caller talking over the agent, and the agent interrupts
 * itself. Parley knows exactly what it sent, so this class predicts how loud that echo is at each moment
 * and takes it out of the inbound audio before the VAD sees it. It is a gate, not a linear canceller: it
 * works on 5 ms energy envelopes, so it survives what defeats sample-level cancellers on the PSTN (mu-law
 * twice, the phone's own non-linear echo control, clock drift, jitter), and costs about 2 µs a frame.
 *
 * Timelines. Both streams are placed on one sample clock derived from `performance.now()`:
 * - reference: a sent frame plays at its send time or right after the frame before it, whichever is later
 *   (the pacer sends up to 160 ms ahead, so frames queue at the carrier back to back); `clearReference`
 *   drops what had not played yet.
 * - inbound: frames are consecutive media; the clock is anchored at the earliest arrival seen (late frames
 *   are jitter, not a later position), and re-anchored when every frame for half a second is late (lost
 *   frames, a network path change).
 * The echo delay is then one number: inbound position minus reference position.
 *
 * Delay search. For each 5 ms inbound block, the inbound envelope (amplitude over the last 10 ms, which
 * irons out the pitch ripple) and the reference envelope at every lag in 0..maxDelayMs go into
 * exponentially weighted sums (≈2 s of agent audio; only blocks with agent audio in the search window
 * count). Every 50 ms the normalised cross-correlation picks the best lag; it is taken once it passes
 * `lockCorrelation` on enough blocks, and replaced only by a clearly better one. The regression slope at
 * that lag is the echo's amplitude gain (the echo return loss): the caller's speech is uncorrelated with
 * the reference, so double-talk adds noise to it but little bias, and blocks that are louder than the echo
 * could be at any lag (the caller talking) are left out of the sums.
 *
 * Suppression. The expected echo of a block is gain × the loudest reference amplitude within ±30 ms of the
 * lag, held with a reverberation-like decay. Up to `marginDb` above that, the block is echo and is scaled
 * down to the line-noise level (so the VAD's noise floor does not move); from twice the margin it is the
 * caller and only the expected echo is taken out (for 200 ms after that, quieter syllables get the same
 * treatment); in between, a blend. With no agent audio in the window nothing is changed, sample for sample.
 *
 * Before a lag is found (the first ~0.5 s of agent audio in a call) the delay is unknown: energy up to
 * `initialEchoGainDb` + `marginDb` below the loudest reference at any lag still in the running is treated as
 * echo. Lags drop out of the running as soon as they have been seen not to correlate, so on an echo-free
 * line the suppressor lets go within about half a second, and says `no_echo`. It keeps watching (at a
 * quarter of the cost) in case the caller switches to speakerphone later.
 *
 * Cost: per 20 ms frame with agent audio in the window, four blocks × (maxDelayMs / 5 + 1) lag updates,
 * plus an O(lags) search every 50 ms. Most frames of a call have no agent audio in the window (the caller's
 * turns, pauses): once the echo predicted from earlier audio has died away to nothing, such a frame is
 * copied through and only what must stay in step is kept (the inbound clock, the block energies that feed
 * the noise floor and the 10 ms envelope, the hold's decay, the ring's zeroing); the result is exactly what
 * the full path would give. No allocation after construction (the output buffer and a small per-block
 * scratch array are reallocated only when the frame length changes).
 */

/** Analysis block: the resolution of the delay estimate and of the gate. */
const BLOCK_MS = 5;
/** Reference history kept (blocks, power of two): covers the search window plus audio sent ahead. */
const RING_BLOCKS = 512;
/** Memory of the correlation sums, in blocks of agent audio (2 s). */
const CORRELATION_BLOCKS = 400;
/** The lag is re-evaluated (and the sums decayed) every this many updated blocks (50 ms). */
const EVALUATE_EVERY_BLOCKS = 10;
/** Decay of the sums per evaluation: a time constant of CORRELATION_BLOCKS. */
const SUM_DECAY = (1 - 1 / CORRELATION_BLOCKS) ** EVALUATE_EVERY_BLOCKS;
/** Updated blocks needed before a lag may be taken (300 ms of agent audio in the window). */
const MIN_BLOCKS_FOR_LOCK = 60;
/**
 * While searching, a lag that has been judged on MIN_BLOCKS_FOR_CANDIDATE blocks (200 ms of agent audio
 * that could have come back at that lag) stays a possible echo only with at least this correlation.
 */
const PLAUSIBLE_CORRELATION = 0.3;
const MIN_BLOCKS_FOR_CANDIDATE = 40;
/** A new lag replaces the current one only if its correlation is higher by this much. */
const SWITCH_MARGIN = 0.05;
/** The lock is dropped when the correlation at the current lag falls below this. */
const UNLOCK_CORRELATION = 0.2;
/** A block this many times the predicted echo energy (with margin) is double-talk: no learning from it. */
const DOUBLE_TALK_RATIO = 1;
/** Longest run of blocks learning is paused for double-talk (1.5 s of agent audio). */
const MAX_FREEZE_BLOCKS = 300;
/**
 * Misalignment allowed around the lag, in blocks either side (±30 ms): a new run of agent audio can start
 * playing some tens of ms off the locked delay (carrier buffering, playout jitter).
 */
const SMEAR_BLOCKS = 6;
/**
 * A run of agent audio that starts playing when it is sent (the carrier's buffer had run dry) plays when its
 * first frame reaches the carrier, and the rest of the run follows that frame. Network delay on that one
 * frame (a slow hop, a TCP retransmission on the media WebSocket) puts the whole run's echo that much past
 * the locked delay, beyond the ±SMEAR_BLOCKS tolerance. Until a new run's own offset is known its echo is
 * expected up to this much later (100 ms), never earlier: audio cannot play before it is sent.
 */
const LATE_RUN_BLOCKS = 20;
/**
 * A new run's echo is also compared up to this much earlier than the delay says (150 ms). Audio cannot play
 * before it is sent, so a run whose echo comes earlier shows that the delay itself was learnt from late
 * audio (a call's first run, the greeting, can start late, and the delay is first found on it alone): the
 * delay moves earlier, to what audio played as sent shows. (The range reaches past the late side's: an
 * offset just outside it would otherwise be matched by one a syllable away, ~175 ms, on the late side.)
 */
const EARLY_RUN_BLOCKS = 30;
/** Blocks of a new run's audio whose echo is compared at each offset -EARLY_RUN_BLOCKS…LATE_RUN_BLOCKS to place the run (200 ms). */
const RUN_FIT_BLOCKS = 40;
/** A run found to play at least this much later (15 ms) than sent is moved there; less is within the tolerance. */
const MIN_RUN_SHIFT_BLOCKS = 3;
/** Correlation a run's offset must reach, and by how much it must beat playing as sent, to move the run. */
const RUN_FIT_CORRELATION = 0.5;
/** Reference blocks quieter than this (amplitude, int16 units; about -66 dBFS) count as silence. */
const ACTIVE_AMPLITUDE = 16;
/** Floor of the tracked inbound noise energy (about -75 dBFS). */
const MIN_NOISE_ENERGY = 0.2;
/** Inbound noise floor rise per block when the level is above it (3 dB/s). */
const NOISE_RISE_PER_BLOCK = 10 ** ((3 * BLOCK_MS) / 1000 / 10);
/** Re-anchor the inbound clock when every frame of this long arrived at least SNAP_LATE_MS late. */
const SNAP_WINDOW_MS = 500;
const SNAP_LATE_MS = 30;
/**
 * Once a block is clearly the caller (twice the margin above the expected echo), the next 200 ms subtract
 * only the expected echo, without the margin: a caller's quieter syllables right after a loud one pass.
 */
const TALK_HOLD_BLOCKS = 40;
/** Unity gain in Q23 (the per-sample gain ramp's fixed point). */
const GAIN_ONE_Q23 = 1 << 23;
/** Reference time origin is this far before the first call, so block indices stay positive. */
const ORIGIN_MARGIN_MS = 5_000;
/**
 * A decaying hold (reference amplitude) below this is zero. Far below anything audible at any plausible echo
 * gain, and it keeps the hold out of the subnormal range, where every multiply is several times slower (left
 * alone, the decay would stop at a subnormal fixed point and cost that on every block, for ever).
 */
const HOLD_FLUSH = 1e-30;

export interface EchoSuppressorOptions {
  /** Rate of both streams (the transport's): 8000 or 16000; any multiple of 200 works. */
  sampleRateHz: number;
  /** Longest echo delay searched for. Default 400. */
  maxDelayMs?: number;
  /** Inbound energy up to this far above the expected echo counts as echo (dB). Default 6. */
  marginDb?: number;
  /** Before a delay is known, echo is assumed to be at most this far below the reference (dB, ≤ 0). Default -10. */
  initialEchoGainDb?: number;
  /** Agent audio after which a call with no delay found counts as echo-free, at the latest. Default 3000. */
  noEchoAfterMs?: number;
  /** Normalised correlation needed to take a lag. Default 0.5. */
  lockCorrelation?: number;
  /** Echo decay after the reference stops, in dB per 10 ms (the room's reverberation). Default 3. */
  tailDecayDbPer10Ms?: number;
}

export const echoSuppressorDefaults = {
  maxDelayMs: 400,
  marginDb: 6,
  initialEchoGainDb: -10,
  noEchoAfterMs: 3000,
  lockCorrelation: 0.5,
  tailDecayDbPer10Ms: 3,
} as const satisfies Required<Omit<EchoSuppressorOptions, 'sampleRateHz'>>;

/** 'searching': no delay yet (conservative); 'locked': delay and level known; 'no_echo': none found. */
export type EchoState = 'searching' | 'locked' | 'no_echo';

/**
 * The result of {@link EchoSuppressor.process}. One object per suppressor, overwritten by every call:
 * read it (and copy `samples` if you keep them) before the next frame.
 */
export interface EchoVerdict {
  /** The inbound frame with the predicted echo taken out. */
  readonly samples: Int16Array;
  /** Most of the frame's energy is explained by the agent's own echo. */
  readonly echoLikely: boolean;
  /** Share of the frame's energy not explained by echo, 0..1 (1: no echo predicted). */
  readonly residualRatio: number;
}

/** Diagnostics (allocates; not for the per-frame path). */
export interface EchoStats {
  readonly state: EchoState;
  /** Estimated echo delay, when locked. */
  readonly delayMs: number | null;
  /** Estimated echo return loss (echo below the reference, dB), when locked. */
  readonly echoReturnLossDb: number | null;
  /** Normalised envelope correlation at the delay, when locked. */
  readonly correlation: number | null;
}

/** Echo gate for one call; see the file comment. */
export class EchoSuppressor {
  readonly sampleRateHz: number;
  readonly #blk: number;
  readonly #numLags: number;
  readonly #marginEnergy: number;
  readonly #initialGainAmp: number;
  readonly #noEchoAfterBlocks: number;
  readonly #lockCorrelation: number;
  readonly #decayAmp: number;
  readonly #aheadLimitSamples: number;
  readonly #samplesPerMs: number;
  readonly #snapWindowSamples: number;
  readonly #snapLateSamples: number;
  /**
   * Predicted echo energy too small to change anything: `x - weight × echo` rounds to `x` for every
   * non-silent block (x ≥ 1/block length, weight ≤ max(1, margin)), so the gate's gain is exactly 1.
   */
  readonly #negligibleEcho: number;

  // Reference ring, indexed by absolute block & (RING_BLOCKS - 1).
  readonly #refSum = new Float64Array(RING_BLOCKS);
  readonly #refAmp = new Float64Array(RING_BLOCKS);
  /** Amplitude over the block and the one before (10 ms): the envelope correlated for the delay search. */
  readonly #refEnv = new Float64Array(RING_BLOCKS);
  /** Where the next sent sample plays (sample position). */
  #writeEnd = 0;
  /** Ring slots hold correct data (silence if nothing was sent) for blocks in [validEnd - RING_BLOCKS, validEnd). */
  #validEnd = 0;
  /** Latest block with audible reference, and the first block of the run of activity it belongs to. */
  #lastActive = -1;
  #activeStart = 0;

  // The newest run placed at its send time, while its offset is not yet known (LATE_RUN_BLOCKS).
  /** Its first block, and its first audible block (-1: none yet; both -1: no run pending). */
  #runStart = -1;
  #runActive = -1;
  /** Sums comparing its echo with the reference at each offset -EARLY_RUN_BLOCKS…LATE_RUN_BLOCKS (index offset + EARLY_RUN_BLOCKS; plain, not weighted). */
  readonly #runSy = new Float64Array(EARLY_RUN_BLOCKS + LATE_RUN_BLOCKS + 1);
  readonly #runSyy = new Float64Array(EARLY_RUN_BLOCKS + LATE_RUN_BLOCKS + 1);
  readonly #runSxy = new Float64Array(EARLY_RUN_BLOCKS + LATE_RUN_BLOCKS + 1);
  #runW = 0;
  #runSx = 0;
  #runSxx = 0;
  /** The pending run's echo came later than LATE_RUN_BLOCKS can place: it stays pending (expected late) until a new lock. */
  #runBeyondReach = false;
  /** The last run moved because it played late: where it started as placed, and by how many blocks (-1, 0: none). */
  #lateStart = -1;
  #lateBlocks = 0;

  // Correlation sums per lag (exponentially weighted).
  readonly #sy: Float64Array;
  readonly #syy: Float64Array;
  readonly #sxy: Float64Array;
  /** While searching: lags the echo may still come from (1), and that set widened by ±SMEAR_BLOCKS. */
  readonly #candidate: Uint8Array;
  readonly #searchMask: Uint8Array;
  /** Total weight of the sums. */
  #w = 0;
  #sx = 0;
  #sxx = 0;
  #updates = 0;
  #activeBlocks = 0;
  #doubleTalkBlocks = 0;

  #state: EchoState = 'searching';
  #lag = 0;
  #gain = 0;
  #correlation = 0;

  // Inbound clock.
  #originMs = Number.NaN;
  #inAnchor = 0;
  #inCount = 0;
  #inStarted = false;
  #snapMin = Infinity;
  #snapSamples = 0;

  // Gate state.
  #hold = 0;
  #noise = MIN_NOISE_ENERGY;
  #noiseStarted = false;
  #lastGain = 1;
  #talkBlocks = 0;
  /** Energy of the previous inbound block (for the 10 ms envelope). */
  #prevX = 0;

  readonly #fitOut: Fit = { r: 0, slope: 0 };
  #out: Int16Array = new Int16Array(0);
  /** Per block of the frame: the gain ramp's start (Q23; -1 when the block is left as it is) and step. */
  #ramps = new Float64Array(0);
  readonly #verdict: { samples: Int16Array; echoLikely: boolean; residualRatio: number } = {
    samples: new Int16Array(0),
    echoLikely: false,
    residualRatio: 1,
  };

  constructor(options: EchoSuppressorOptions) {
    const rate = options.sampleRateHz;
    if (!(rate > 0) || (rate * BLOCK_MS) % 1000 !== 0) throw new RangeError(`sample rate must be a positive multiple of ${1000 / BLOCK_MS} Hz, got ${rate}`);
    const o = { ...echoSuppressorDefaults, ...definedOnly(options) };
    if (!(o.maxDelayMs >= BLOCK_MS && o.maxDelayMs <= 1000)) throw new RangeError(`maxDelayMs must be in [${BLOCK_MS}, 1000], got ${o.maxDelayMs}`);
    if (!(o.initialEchoGainDb <= 0)) throw new RangeError(`initialEchoGainDb must be ≤ 0, got ${o.initialEchoGainDb}`);
    this.sampleRateHz = rate;
    this.#samplesPerMs = rate / 1000;
    this.#blk = (rate * BLOCK_MS) / 1000;
    this.#numLags = Math.floor(o.maxDelayMs / BLOCK_MS) + 1;
    this.#marginEnergy = 10 ** (o.marginDb / 10);
    this.#initialGainAmp = 10 ** (o.initialEchoGainDb / 20);
    this.#noEchoAfterBlocks = Math.ceil(o.noEchoAfterMs / BLOCK_MS);
    this.#lockCorrelation = o.lockCorrelation;
    this.#decayAmp = 10 ** (-(o.tailDecayDbPer10Ms * BLOCK_MS) / 10 / 20);
    this.#aheadLimitSamples = (RING_BLOCKS - this.#numLags - 4 * SMEAR_BLOCKS - 2 * LATE_RUN_BLOCKS) * this.#blk;
    this.#snapWindowSamples = SNAP_WINDOW_MS * this.#samplesPerMs;
    this.#snapLateSamples = SNAP_LATE_MS * this.#samplesPerMs;
    this.#negligibleEcho = 2 ** -56 / (this.#blk * Math.max(1, this.#marginEnergy));
    this.#sy = new Float64Array(this.#numLags);
    this.#syy = new Float64Array(this.#numLags);
    this.#sxy = new Float64Array(this.#numLags);
    this.#candidate = new Uint8Array(this.#numLags);
    this.#searchMask = new Uint8Array(this.#numLags + 2 * SMEAR_BLOCKS);
    this.reset();
  }

  /** Forgets everything: reference history, delay, level and clocks. */
  reset(): void {
    this.#refSum.fill(0);
    this.#refAmp.fill(0);
    this.#refEnv.fill(0);
    this.#writeEnd = 0;
    this.#validEnd = 0;
    this.#lastActive = -1;
    this.#activeStart = 0;
    this.#endRun();
    this.#lateStart = -1;
    this.#lateBlocks = 0;
    this.#sy.fill(0);
    this.#syy.fill(0);
    this.#sxy.fill(0);
    this.#w = 0;
    this.#sx = 0;
    this.#sxx = 0;
    this.#updates = 0;
    this.#activeBlocks = 0;
    this.#doubleTalkBlocks = 0;
    this.#state = 'searching';
    this.#candidate.fill(1);
    this.#searchMask.fill(1);
    this.#lag = 0;
    this.#gain = 0;
    this.#correlation = 0;
    this.#originMs = Number.NaN;
    this.#inAnchor = 0;
    this.#inCount = 0;
    this.#inStarted = false;
    this.#snapMin = Infinity;
    this.#snapSamples = 0;
    this.#hold = 0;
    this.#noise = MIN_NOISE_ENERGY;
    this.#noiseStarted = false;
    this.#lastGain = 1;
    this.#talkBlocks = 0;
    this.#prevX = 0;
  }

  get state(): EchoState {
    return this.#state;
  }

  /** Estimated echo delay in ms, or undefined when not locked. */
  get delayMs(): number | undefined {
    return this.#state === 'locked' ? this.#lag * BLOCK_MS : undefined;
  }

  stats(): EchoStats {
    const locked = this.#state === 'locked';
    return {
      state: this.#state,
      delayMs: locked ? this.#lag * BLOCK_MS : null,
      echoReturnLossDb: locked ? Math.round(-20 * Math.log10(Math.max(this.#gain, 1e-6)) * 10) / 10 : null,
      correlation: locked ? Math.round(this.#correlation * 1000) / 1000 : null,
    };
  }

  /** Sample position of wall time `atMs` on the shared clock. */
  #pos(atMs: number): number {
    if (Number.isNaN(this.#originMs)) {
      this.#originMs = atMs - ORIGIN_MARGIN_MS;
      this.#writeEnd = Math.round(ORIGIN_MARGIN_MS * this.#samplesPerMs);
      this.#validEnd = Math.floor(this.#writeEnd / this.#blk);
    }
    return (atMs - this.#originMs) * this.#samplesPerMs;
  }

  /**
   * Agent audio as it goes on the wire: call for every outbound frame when it is sent.
   * @param samples PCM16 at `sampleRateHz`, exactly what was sent.
   * @param atMs send time (performance.now scale).
   */
  reference(samples: Int16Array, atMs: number): void {
    const now = Math.round(this.#pos(atMs));
    // Plays when sent, or right after what is still queued at the carrier.
    let pos = now > this.#writeEnd ? now : this.#writeEnd;
    // The carrier's buffer ran dry: a new run, which plays when this frame arrives there. (Placed only
    // against a locked delay; before that the search window is wide anyway.)
    if (now > this.#writeEnd + this.#blk && this.#state === 'locked') this.#startRun(Math.floor(now / this.#blk));
    let n = samples.length;
    // Audio queued absurdly far ahead would overwrite history still needed: keep what fits.
    const limit = now + this.#aheadLimitSamples;
    if (pos + n > limit) n = limit > pos ? limit - pos : 0;
    if (n === 0) return;
    const blk = this.#blk;
    const mask = RING_BLOCKS - 1;
    this.#extendTo(Math.floor((pos + n - 1) / blk) + 1);
    let i = 0;
    while (i < n) {
      const b = Math.floor(pos / blk);
      const slot = b & mask;
      const blockEnd = (b + 1) * blk - pos;
      const end = n - i < blockEnd ? n : i + blockEnd;
      let sum = 0;
      for (let j = i; j < end; j++) {
        const s = samples[j]!;
        sum += s * s;
      }
      const total = this.#refSum[slot]! + sum;
      this.#refSum[slot] = total;
      const amp = Math.sqrt(total / blk);
      this.#refAmp[slot] = amp;
      this.#refEnv[slot] = Math.sqrt((total + this.#refSum[(b - 1) & mask]!) / (2 * blk));
      if (amp > ACTIVE_AMPLITUDE && this.#runStart >= 0 && this.#runActive < 0) this.#runActive = b;
      if (amp > ACTIVE_AMPLITUDE && b > this.#lastActive) {
        // A new run starts after a silence longer than the search window.
        if (b - this.#lastActive > this.#numLags + SMEAR_BLOCKS) this.#activeStart = b;
        this.#lastActive = b;
      }
      pos += end - i;
      i = end;
    }
    this.#writeEnd = pos;
  }

  /** Makes every block before `end` valid, blocks not yet reached holding silence. */
  #extendTo(end: number): void {
    if (end <= this.#validEnd) return;
    const mask = RING_BLOCKS - 1;
    for (let b = Math.max(this.#validEnd, end - RING_BLOCKS); b < end; b++) {
      this.#refSum[b & mask] = 0;
      this.#refAmp[b & mask] = 0;
      this.#refEnv[b & mask] = 0;
    }
    this.#validEnd = end;
  }

  /**
   * The carrier's playback buffer was cleared (barge-in): audio sent but not yet played at `atMs` never
   * plays, so it is dropped from the reference.
   */
  clearReference(atMs: number): void {
    const at = Math.round(this.#pos(atMs));
    if (at >= this.#writeEnd) return;
    const mask = RING_BLOCKS - 1;
    // The block holding `at` keeps its (partly played) energy; later blocks are silence again.
    for (let b = Math.max(Math.floor(at / this.#blk) + 1, this.#validEnd - RING_BLOCKS); b < this.#validEnd; b++) {
      this.#refSum[b & mask] = 0;
      this.#refAmp[b & mask] = 0;
      this.#refEnv[b & mask] = 0;
    }
    this.#writeEnd = at;
    const atBlock = Math.floor(at / this.#blk);
    if (this.#lastActive > atBlock) this.#lastActive = atBlock;
  }

  /**
   * Takes the predicted echo out of one inbound frame.
   * @param inbound PCM16 at `sampleRateHz` (typically 20 ms), in arrival order.
   * @param atMs arrival time (performance.now scale).
   * @param out where to write the cleaned samples (same length; may be `inbound` itself, or a fresh array
   *   when the cleaned frame is kept). Default: a buffer owned by the suppressor, overwritten by the next call.
   * @returns the verdict object, reused by the next call.
   */
  process(inbound: Int16Array, atMs: number, out?: Int16Array): EchoVerdict {
    const n = inbound.length;
    let dst = out;
    if (!dst) {
      if (this.#out.length !== n) this.#out = new Int16Array(n);
      dst = this.#out;
    } else if (dst.length !== n) {
      throw new RangeError(`output buffer holds ${dst.length} samples, frame has ${n}`);
    }
    const v = this.#verdict;
    v.samples = dst;
    v.echoLikely = false;
    v.residualRatio = 1;
    if (n === 0) return v;

    // Inbound clock: position of this frame's first sample.
    const offset = this.#pos(atMs) - (this.#inCount + n);
    if (!this.#inStarted || offset < this.#inAnchor) {
      this.#inStarted = true;
      this.#inAnchor = offset;
    }
    if (offset < this.#snapMin) this.#snapMin = offset;
    this.#snapSamples += n;
    if (this.#snapSamples >= this.#snapWindowSamples) {
      if (this.#snapMin - this.#inAnchor > this.#snapLateSamples) this.#inAnchor = this.#snapMin;
      this.#snapMin = Infinity;
      this.#snapSamples = 0;
    }
    const start = this.#inAnchor + this.#inCount;
    this.#inCount += n;

    if (this.#idle(Math.floor(start / this.#blk + 0.5))) {
      if (dst !== inbound) dst.set(inbound);
      this.#passIdle(inbound, start);
      return v;
    }

    const blk = this.#blk;
    const blocks = Math.ceil(n / blk);
    if (this.#ramps.length < 2 * blocks) this.#ramps = new Float64Array(2 * blocks);
    const ramps = this.#ramps;
    let changed = 0;
    let totalIn = 0;
    let totalEcho = 0;
    for (let i = 0, k = 0; i < n; i += blk, k += 2) {
      const end = i + blk < n ? i + blk : n;
      const len = end - i;
      let sum = 0;
      for (let j = i; j < end; j++) {
        const s = inbound[j]!;
        sum += s * s;
      }
      const x = sum / len;
      const ib = Math.floor((start + i) / blk + 0.5);
      if (!this.#noiseStarted) {
        this.#noiseStarted = true;
        this.#noise = x > MIN_NOISE_ENERGY ? x : MIN_NOISE_ENERGY;
      }
      const echo = this.#predictAndLearn(ib, x, len === blk);
      // Up to the margin above the expected echo, the block is echo and goes down to the line noise; from
      // twice that, it is the caller, and only the expected echo is taken out; in between, a linear blend.
      const threshold = this.#marginEnergy * echo;
      let weight = this.#talkBlocks > 0 ? 1 : this.#marginEnergy;
      if (x >= 2 * threshold) {
        weight = 1;
        if (echo > this.#noise) this.#talkBlocks = TALK_HOLD_BLOCKS;
      } else if (x > threshold) weight = weight - ((weight - 1) * (x - threshold)) / threshold;
      if (this.#talkBlocks > 0) this.#talkBlocks--;
      const residual = x - weight * echo;
      const floor = x < this.#noise ? x : this.#noise;
      const target = residual > floor ? residual : floor;
      const g = x > 0 ? Math.sqrt(target / x) : 1;
      if (this.#planGain(g, len, ramps, k)) changed++;
      totalIn += sum;
      totalEcho += (x - residual < x ? x - residual : x) * len;
      // Noise floor: follows quieter blocks at once, rises slowly.
      this.#noise = x < this.#noise ? (x > MIN_NOISE_ENERGY ? x : MIN_NOISE_ENERGY) : this.#noise * NOISE_RISE_PER_BLOCK;
    }
    // Blocks left as they are are copied (all at once, when there are any), the others scaled from the input.
    let src = inbound;
    if (dst !== inbound && changed < blocks) {
      dst.set(inbound);
      src = dst;
    }
    if (changed > 0) {
      for (let i = 0, k = 0; i < n; i += blk, k += 2) {
        if (ramps[k]! < 0) continue;
        let acc = ramps[k]!;
        const step = ramps[k + 1]!;
        const end = i + blk < n ? i + blk : n;
        for (let j = i; j < end; j++) {
          acc += step;
          dst[j] = (src[j]! * (acc >> 8) + 16384) >> 15;
        }
      }
    }
    const ratio = totalIn > 0 ? 1 - totalEcho / totalIn : 1;
    v.residualRatio = ratio;
    v.echoLikely = ratio < 0.5 && totalEcho > 2 * this.#noise * n;
    return v;
  }

  /**
   * Whether the frame whose first block is `ib` can pass through untouched, with the result the full path
   * would give: no audible agent audio anywhere in the search window of any of its blocks (the same test the
   * prediction and the learning use), the echo still held from earlier audio too small to matter, and the
   * gain ramp at rest. Such a frame predicts nothing and learns nothing.
   */
  #idle(ib: number): boolean {
    const edge = ib - this.#numLags - SMEAR_BLOCKS - LATE_RUN_BLOCKS;
    // Agent audio in the window, or sent ahead of it; or the ring no longer reaches back over the window
    // (the full path handles that rare case); or a run being placed.
    if (this.#lastActive > edge || this.#validEnd - RING_BLOCKS > edge || this.#lastGain !== 1 || this.#runStart >= 0) return false;
    if (this.#state === 'no_echo') return true;
    // The hold only decays from here on, so the first block's bound holds for the whole frame.
    const predicted = this.#hold * (this.#state === 'locked' ? this.#gain : this.#initialGainAmp);
    return predicted * predicted <= this.#negligibleEcho;
  }

  /**
   * An idle frame (see {@link #idle}), already copied to the output: keeps in step what later frames depend
   * on, exactly as the full path would leave it.
   */
  #passIdle(inbound: Int16Array, start: number): void {
    const n = inbound.length;
    const blk = this.#blk;
    const decay = this.#decayAmp;
    let hold = this.#state === 'no_echo' ? 0 : this.#hold;
    let noise = this.#noise;
    let x = 0;
    let blocks = 0;
    let last = 0;
    for (let i = 0; i < n; i += blk) {
      const end = i + blk < n ? i + blk : n;
      let sum = 0;
      for (let j = i; j < end; j++) {
        const s = inbound[j]!;
        sum += s * s;
      }
      x = sum / (end - i);
      if (!this.#noiseStarted) {
        this.#noiseStarted = true;
        noise = x > MIN_NOISE_ENERGY ? x : MIN_NOISE_ENERGY;
      }
      noise = x < noise ? (x > MIN_NOISE_ENERGY ? x : MIN_NOISE_ENERGY) : noise * NOISE_RISE_PER_BLOCK;
      if (hold !== 0) {
        hold *= decay;
        if (hold < HOLD_FLUSH) hold = 0;
      }
      blocks++;
      last = i;
    }
    this.#noise = noise;
    // The 10 ms envelope of the first block learnt from, when agent audio comes back, needs this one.
    this.#prevX = x;
    this.#hold = hold;
    this.#talkBlocks = this.#talkBlocks > blocks ? this.#talkBlocks - blocks : 0;
    const ib = Math.floor((start + last) / blk + 0.5);
    if (this.#validEnd < ib + SMEAR_BLOCKS + 1) this.#extendTo(ib + SMEAR_BLOCKS + 1);
  }

  /**
   * Plans the gain of a block of `len` samples, moving linearly from the previous block's to `g`, into
   * `ramps[k]` (start, Q23) and `ramps[k + 1]` (step per sample). Returns false, with a start of -1, when the
   * ramp rounds to unity everywhere: then it would change no sample.
   */
  #planGain(g: number, len: number, ramps: Float64Array, k: number): boolean {
    const g0 = this.#lastGain;
    this.#lastGain = g;
    ramps[k] = -1;
    if (g0 === 1 && g === 1) return false;
    // Integer arithmetic: the gain ramps in Q23 and is applied in Q15 with rounding (gains are ≤ 1, so
    // |sample × gain| < 2^30 stays in int32).
    const acc = Math.round(g0 * GAIN_ONE_Q23);
    const step = Math.round(((g - g0) * GAIN_ONE_Q23) / len);
    // Q15 unity (acc >> 8 === 2^15) over the whole ramp (acc is monotonic) changes no sample.
    const first = acc + step;
    const last = acc + step * len;
    if ((first < last ? first : last) >= GAIN_ONE_Q23 && (first < last ? last : first) < GAIN_ONE_Q23 + 256) return false;
    ramps[k] = acc;
    ramps[k + 1] = step;
    return true;
  }

  /**
   * Predicted echo energy for inbound block `ib` (mean square `x`), learning from the block when it is a
   * full one and the agent was audible in the search window.
   */
  #predictAndLearn(ib: number, x: number, full: boolean): number {
    const lags = this.#numLags;
    const amp = this.#refAmp;
    const mask = RING_BLOCKS - 1;
    if (this.#validEnd < ib + SMEAR_BLOCKS + 1) this.#extendTo(ib + SMEAR_BLOCKS + 1);
    // The ring no longer reaches back over the window (inbound stalled for seconds): nothing to go on.
    if (this.#validEnd - RING_BLOCKS > ib - lags - SMEAR_BLOCKS - 2 * LATE_RUN_BLOCKS) {
      this.#hold = 0;
      return 0;
    }
    // Agent audio somewhere in the search window (exactly: a run of activity overlaps it).
    const windowActive = this.#activeStart <= ib && this.#lastActive > ib - lags;

    let predicted = 0;
    let held = this.#hold * this.#decayAmp;
    if (held < HOLD_FLUSH) held = 0;
    if (this.#state === 'locked') {
      let peak = 0;
      const center = ib - this.#lag;
      // The echo of a run not yet placed may come up to LATE_RUN_BLOCKS later than the delay says.
      // (Twice that when its echo came later than that: the path has moved, and the delay search is on it.)
      const from = this.#runActive >= 0 && center + SMEAR_BLOCKS >= this.#runActive ? -SMEAR_BLOCKS - (this.#runBeyondReach ? 2 : 1) * LATE_RUN_BLOCKS : -SMEAR_BLOCKS;
      if (full && this.#runActive >= 0 && center >= this.#runActive) this.#fitRun(center, Math.sqrt((x + this.#prevX) / 2));
      if (this.#lastActive >= center + from) {
        for (let k = from; k <= SMEAR_BLOCKS; k++) {
          const y = amp[(center + k) & mask]!;
          if (y > peak) peak = y;
        }
      }
      this.#hold = peak > held ? peak : held;
      predicted = this.#hold * this.#gain;
    } else if (this.#state === 'searching') {
      // Unknown delay: the echo may come from any lag not yet ruled out, some dB down at most.
      let peak = 0;
      if (this.#lastActive > ib - lags - SMEAR_BLOCKS) {
        const candidates = this.#searchMask;
        for (let k = 0; k < lags + 2 * SMEAR_BLOCKS; k++) {
          if (candidates[k] === 0) continue;
          const y = amp[(ib - k + SMEAR_BLOCKS) & mask]!;
          if (y > peak) peak = y;
        }
      }
      this.#hold = peak > held ? peak : held;
      predicted = this.#hold * this.#initialGainAmp;
    } else {
      this.#hold = 0;
    }
    const echo = predicted * predicted;
    // With no echo found, keep watching for one (the caller may switch to speakerphone) at a quarter of the
    // cost: every fourth block.
    if (full && windowActive && (this.#state !== 'no_echo' || (ib & 3) === 0)) {
      // Double-talk: a locked estimate that explains far less than the block holds means the caller is
      // talking. Learning from it would only blur the estimate, so it waits, though not for ever: an echo
      // path that got louder looks the same, and must be learnt again.
      if (this.#state === 'locked' && x > DOUBLE_TALK_RATIO * this.#marginEnergy * echo && this.#doubleTalkBlocks < MAX_FREEZE_BLOCKS && this.#notEchoAtAnyLag(ib, x)) {
        this.#doubleTalkBlocks++;
      } else {
        this.#doubleTalkBlocks = 0;
        this.#learn(ib, Math.sqrt((x + this.#prevX) / 2));
      }
    }
    this.#prevX = x;
    return echo;
  }

  /**
   * Moves the reference from block `start` on by `d` blocks (later when positive), the gap it leaves becoming
   * silence: a run found to play late goes where it played, so its echo is predicted there and the delay
   * search learns the delay of audio that plays as sent.
   */
  #moveRun(start: number, d: number): void {
    const mask = RING_BLOCKS - 1;
    const end = this.#validEnd;
    const sum = this.#refSum;
    const amp = this.#refAmp;
    const env = this.#refEnv;
    if (d > 0) {
      for (let b = end - 1; b >= Math.max(start, end - RING_BLOCKS + d); b--) {
        sum[(b + d) & mask] = sum[b & mask]!;
        amp[(b + d) & mask] = amp[b & mask]!;
        env[(b + d) & mask] = env[b & mask]!;
      }
      for (let b = start; b < start + d; b++) sum[b & mask] = amp[b & mask] = env[b & mask] = 0;
      this.#validEnd = end + d;
    } else {
      for (let b = Math.max(start, end - RING_BLOCKS - d); b < end; b++) {
        sum[(b + d) & mask] = sum[b & mask]!;
        amp[(b + d) & mask] = amp[b & mask]!;
        env[(b + d) & mask] = env[b & mask]!;
      }
      for (let b = end + d; b < end; b++) sum[b & mask] = amp[b & mask] = env[b & mask] = 0;
    }
    const first = d > 0 ? start + d : start;
    env[first & mask] = Math.sqrt((sum[first & mask]! + sum[(first - 1) & mask]!) / (2 * this.#blk));
    this.#writeEnd += d * this.#blk;
    if (this.#lastActive >= start) this.#lastActive += d;
    if (this.#activeStart >= start) this.#activeStart += d;
    this.#lateStart = d > 0 ? start : -1;
    this.#lateBlocks = d > 0 ? d : 0;
  }

  /** A run placed at its send time starts at block `b`: its offset is to be found (see LATE_RUN_BLOCKS). */
  #startRun(b: number): void {
    this.#endRun();
    this.#runStart = b;
    this.#runSy.fill(0);
    this.#runSyy.fill(0);
    this.#runSxy.fill(0);
    this.#runW = 0;
    this.#runSx = 0;
    this.#runSxx = 0;
  }

  /** No run is being placed (any more). */
  #endRun(): void {
    this.#runStart = -1;
    this.#runActive = -1;
    this.#runBeyondReach = false;
  }

  /**
   * Adds the inbound envelope `a` whose echo, played as sent, would be of reference block `c` to the run's
   * sums at every offset; once the run's first RUN_FIT_BLOCKS have been seen at every offset, places it: a run
   * that plays late is moved there, one whose echo came early moves the delay (see EARLY_RUN_BLOCKS).
   */
  #fitRun(c: number, a: number): void {
    if (this.#runBeyondReach) return;
    const env = this.#refEnv;
    const mask = RING_BLOCKS - 1;
    // The earliest offsets read reference blocks sent ahead of the one playing.
    if (this.#validEnd < c + EARLY_RUN_BLOCKS + 1) this.#extendTo(c + EARLY_RUN_BLOCKS + 1);
    this.#runW += 1;
    this.#runSx += a;
    this.#runSxx += a * a;
    for (let i = 0, d = -EARLY_RUN_BLOCKS; d <= LATE_RUN_BLOCKS; i++, d++) {
      const y = env[(c - d) & mask]!;
      this.#runSy[i]! += y;
      this.#runSyy[i]! += y * y;
      this.#runSxy[i]! += a * y;
    }
    if (c < this.#runActive + RUN_FIT_BLOCKS + LATE_RUN_BLOCKS) return;
    let best = 0;
    let bestR = -1;
    let r0 = -1;
    for (let i = 0, d = -EARLY_RUN_BLOCKS; d <= LATE_RUN_BLOCKS; i++, d++) {
      const r = fitSums(this.#runW, this.#runSx, this.#runSxx, this.#runSy[i]!, this.#runSyy[i]!, this.#runSxy[i]!, this.#fitOut).r;
      if (d === 0) r0 = r;
      if (r > bestR) {
        bestR = r;
        best = d;
      }
    }
    const start = this.#runStart;
    const clear = bestR >= RUN_FIT_CORRELATION && bestR > r0 + SWITCH_MARGIN;
    if (clear && best >= LATE_RUN_BLOCKS - 1) {
      // Later than a run can be placed: the echo path itself has moved. The delay search will find that; until
      // it does, or the next run starts, this run's echo is still expected late.
      this.#runBeyondReach = true;
      return;
    }
    this.#endRun();
    if (clear && best >= MIN_RUN_SHIFT_BLOCKS) this.#moveRun(start, best);
    else if (clear && best <= -MIN_RUN_SHIFT_BLOCKS) this.#moveDelayEarlier(-best);
  }

  /**
   * The delay was learnt from audio that played `d` blocks later than sent: moves it (and the evidence in the
   * search's sums, which now counts for the lag that audio had as sent) `d` blocks earlier.
   */
  #moveDelayEarlier(d: number): void {
    const lags = this.#numLags;
    const sy = this.#sy;
    const syy = this.#syy;
    const sxy = this.#sxy;
    // The longest lags, with no evidence of their own to take, take the longest lag's: audio that did not correlate.
    // (Empty sums would not do: r is normalised, so the few blocks learnt after this would decide it alone, and
    // a caller talking could look like a clear echo there.)
    for (let L = 0; L < lags; L++) {
      const from = L + d < lags ? L + d : lags - 1;
      sy[L] = sy[from]!;
      syy[L] = syy[from]!;
      sxy[L] = sxy[from]!;
    }
    // A run moved against the old delay stays where it was found to play.
    this.#lateStart = -1;
    this.#lateBlocks = 0;
    this.#lag = this.#lag > d ? this.#lag - d : 0;
    const fit = this.#fit(this.#lag);
    this.#correlation = fit.r;
    this.#gain = fit.slope;
  }

  /**
   * Whether block `ib` (energy `x`) is louder than the echo could be at any lag of the window, at the
   * current echo level: then it is the caller. Otherwise it may be echo that moved to another delay, and
   * is learnt from so the new delay is found.
   */
  #notEchoAtAnyLag(ib: number, x: number): boolean {
    const amp = this.#refAmp;
    const mask = RING_BLOCKS - 1;
    let peak = 0;
    for (let L = -SMEAR_BLOCKS; L < this.#numLags + SMEAR_BLOCKS; L++) {
      const y = amp[(ib - L) & mask]!;
      if (y > peak) peak = y;
    }
    const e = peak * this.#gain;
    return x > this.#marginEnergy * e * e;
  }

  /**
   * Adds inbound block `ib` (amplitude `a`) and the reference amplitude at every lag to the correlation
   * sums. The sums are exponentially weighted by decaying them every EVALUATE_EVERY_BLOCKS blocks, and
   * divided by the total weight when read: early on that is a plain average, later a ~2 s memory.
   */
  #learn(ib: number, a: number): void {
    this.#updates++;
    this.#activeBlocks++;
    this.#w += 1;
    this.#sx += a;
    this.#sxx += a * a;
    const amp = this.#refEnv;
    const mask = RING_BLOCKS - 1;
    const sy = this.#sy;
    const syy = this.#syy;
    const sxy = this.#sxy;
    const lags = this.#numLags;
    for (let L = 0; L < lags; L++) {
      const y = amp[(ib - L) & mask]!;
      sy[L]! += y;
      syy[L]! += y * y;
      sxy[L]! += a * y;
    }
    if (this.#updates % EVALUATE_EVERY_BLOCKS === 0) {
      this.#w *= SUM_DECAY;
      this.#sx *= SUM_DECAY;
      this.#sxx *= SUM_DECAY;
      for (let L = 0; L < lags; L++) {
        sy[L]! *= SUM_DECAY;
        syy[L]! *= SUM_DECAY;
        sxy[L]! *= SUM_DECAY;
      }
      this.#evaluate();
    }
  }

  /** Normalised correlation and regression slope of the inbound on the reference at lag L. */
  #fit(L: number): Fit {
    return fitSums(this.#w, this.#sx, this.#sxx, this.#sy[L]!, this.#syy[L]!, this.#sxy[L]!, this.#fitOut);
  }

  /** Picks the lag with the highest normalised correlation and updates the lock. */
  #evaluate(): void {
    // The inbound variance is the same at every lag, so ranking by cov·|cov| / var(y) ranks by correlation.
    const w = this.#w;
    const mx = this.#sx / w;
    const vx = this.#sxx / w - mx * mx;
    const searching = this.#state === 'searching';
    const minR2 = PLAUSIBLE_CORRELATION * PLAUSIBLE_CORRELATION;
    let best = -1;
    let bestScore = 0;
    let plausible = 0;
    for (let L = 0; L < this.#numLags; L++) {
      const my = this.#sy[L]! / w;
      const vy = this.#syy[L]! / w - my * my;
      const cov = this.#sxy[L]! / w - mx * my;
      const score = cov > 0 && vy > 0 ? (cov * cov) / vy : 0;
      if (score > bestScore) {
        bestScore = score;
        best = L;
      }
      if (searching) {
        // A lag stays a candidate until it has been judged on enough blocks and does not correlate.
        const candidate = this.#updates < L + MIN_BLOCKS_FOR_CANDIDATE || score >= minR2 * vx;
        this.#candidate[L] = candidate ? 1 : 0;
        if (candidate) plausible++;
      }
    }
    if (searching) {
      // Where the echo may still come from: the candidates, widened by the alignment tolerance.
      const mask = this.#searchMask;
      mask.fill(0);
      for (let L = 0; L < this.#numLags; L++) {
        if (this.#candidate[L] === 1) for (let k = 0; k <= 2 * SMEAR_BLOCKS; k++) mask[L + k] = 1;
      }
    }
    const bestR = best >= 0 ? this.#fit(best).r : 0;
    if (this.#state !== 'locked') {
      // The echo at lag L exists only L after the agent started: judge a lag on at least
      // MIN_BLOCKS_FOR_LOCK blocks that could have held its echo.
      if (best >= 0 && this.#updates >= best + MIN_BLOCKS_FOR_LOCK && bestR >= this.#lockCorrelation) this.#lockAt(best);
      else if (searching && (plausible === 0 || this.#activeBlocks >= this.#noEchoAfterBlocks)) this.#state = 'no_echo';
      return;
    }
    const current = this.#fit(this.#lag);
    if (best >= 0 && best !== this.#lag && bestR > current.r + SWITCH_MARGIN) {
      this.#lockAt(best);
      return;
    }
    if (current.r < UNLOCK_CORRELATION) {
      this.#state = 'no_echo';
      this.#endRun();
      return;
    }
    this.#correlation = current.r;
    this.#gain = current.slope;
  }

  #lockAt(L: number): void {
    // Run offsets were found against the old delay.
    if (this.#state === 'locked' && L !== this.#lag) {
      // The last run moved may have moved because the path changed: put it back where it was sent.
      if (this.#lateStart >= 0 && this.#lateStart > this.#validEnd - RING_BLOCKS + this.#lateBlocks) this.#moveRun(this.#lateStart + this.#lateBlocks, -this.#lateBlocks);
      this.#lateStart = -1;
      this.#lateBlocks = 0;
      this.#endRun();
    }
    const fit = this.#fit(L);
    this.#state = 'locked';
    this.#lag = L;
    this.#correlation = fit.r;
    this.#gain = fit.slope;
  }
}

interface Fit {
  r: number;
  slope: number;
}

/**
 * Normalised correlation and regression slope of x (inbound) on y (reference) from their sums over a total
 * weight `w`, written into `out` (no allocation: this runs for every lag and every run offset).
 */
function fitSums(w: number, sx: number, sxx: number, sy: number, syy: number, sxy: number, out: Fit): Fit {
  const mx = sx / w;
  const vx = sxx / w - mx * mx;
  const my = sy / w;
  const vy = syy / w - my * my;
  const cov = sxy / w - mx * my;
  out.r = vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : 0;
  out.slope = vy > 0 && cov > 0 ? cov / vy : 0;
  return out;
}

/** Drops keys whose value is undefined so they do not override defaults when spread. */
function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
