import { allocSamples, audioFrame } from '../../audio/frame.js';
import { base64DecodedLength, base64EncodeInto, mulawBase64Length, mulawDecode, mulawDecodeAt, mulawDecodeBase64, mulawEncodeAt } from '../../audio/mulaw.js';
import { StreamingResampler } from '../../audio/resampler.js';
import type { AudioFrame } from '../../audio/frame.js';
import { CloseCode, frameHeaderLength, OP_TEXT, ReadyState, type WebSocketConnection, type WebSocketProtocolError, writeFrameHeader } from '../../net/websocket-connection.js';
import type { PacedStream, Pacer } from '../../pipeline/pacer.js';
import type { MediaHandler, MediaTransport } from '../types.js';
import {
  bytesEqual,
  emptyMediaFields,
  encodeClear,
  encodeMark,
  MediaProtocolError,
  mediaMessageParts,
  parseTwilioMessage,
  scanMediaMessage,
  type StartMessage,
} from './media-protocol.js';

/** Twilio media is 8 kHz mu-law; outbound audio is queued in 20 ms frames of 160 bytes. */
const TWILIO_RATE_HZ = 8000;
const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
/** Most frames one outbound media message carries (the pacer asks for at most its batch). */
const MAX_MESSAGE_FRAMES = 16;
/** The mu-law bytes of one outbound message, gathered from the ring (shared: used synchronously). */
const messageBytes = new Uint8Array(MAX_MESSAGE_FRAMES * FRAME_SAMPLES);
/** Outbound queue capacity (frames) when it is first needed; it doubles as replies outgrow it. */
const INITIAL_QUEUE_FRAMES = 64;
/** A drained queue larger than this is released, so a long reply does not keep its memory for the whole call. */
const MAX_IDLE_QUEUE_FRAMES = 256;
const INBOUND = Uint8Array.from('inbound', (c) => c.charCodeAt(0));
const EMPTY_SAMPLES = new Int16Array(0);
/** A media stream that has not sent `start` this long after connecting is dropped. */
export const START_TIMEOUT_MS = 10_000;

/** What a media stream needs of its WebSocket (a WebSocketConnection; tests use a fake). */
export type MediaSocket = Pick<WebSocketConnection, 'readyState' | 'start' | 'send' | 'sendFrame' | 'close'>;

/** WebSocket close codes used for bad input (RFC 6455 §7.4.1). */
export const CLOSE_POLICY = 1008;
export const CLOSE_NORMAL = 1000;

type Phase = 'awaiting_connected' | 'awaiting_start' | 'streaming' | 'ended';

/**
 * Decides, at `start`, whether this stream may proceed and who handles it. Returning a
 * MediaProtocolError (e.g. bad token) closes the stream with that reason.
 */
export type StartAuthorizer = (start: StartMessage, transport: TwilioMediaStream) => MediaHandler | MediaProtocolError | Promise<MediaHandler | MediaProtocolError>;

export interface TwilioMediaStreamLog {
  warn(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

/**
 * One Twilio Media Streams WebSocket: enforces the message order (connected → start → media… → stop),
 * decodes inbound audio, and queues outbound audio and marks for the shared pacer.
 * Bad input closes this stream only, with the error code as the close reason.
 *
 * Hot paths (50 frames per second each way per call) allocate almost nothing: inbound `media`
 * messages in Twilio's plain form are read straight from the WebSocket bytes and their base64
 * payload decoded straight to PCM16 in a pooled array (anything else takes the general parser,
 * with the same result); outbound frames wait as base64 text in a ring buffer and are written
 * into their message's bytes only when the pacer sends them.
 */
export class TwilioMediaStream implements MediaTransport, PacedStream {
  readonly sampleRateHz = TWILIO_RATE_HZ;
  private phase: Phase = 'awaiting_connected';
  private handler: MediaHandler | undefined;
  private streamSid = '';
  /** streamSid as UTF-8, compared with the bytes of inbound media messages. */
  private streamSidBytes: Uint8Array = new Uint8Array(0);
  private readonly fields = emptyMediaFields();
  /** Outbound frames as mu-law, FRAME_SAMPLES bytes each; frame k sits at slot k % queueFrames. */
  private queue: Uint8Array | undefined;
  private queueFrames = 0;
  /** Frame numbers (since the stream started) of the next frame to send and the next to queue. */
  private head = 0;
  private tail = 0;
  /** Marks, each sent once the frames queued before it (up to frame number `at`) have gone. */
  private readonly marks: { readonly name: string; readonly at: number }[] = [];
  private messageParts: { readonly prefix: Buffer; readonly suffix: Buffer } | undefined;
  private readonly carry = new Int16Array(FRAME_SAMPLES);
  /** A frame just sent, decoded back for the handler's echo reference (reused: valid during the callback). */
  private readonly sentSamples = new Int16Array(FRAME_SAMPLES);
  private carryLen = 0;
  private resampler: StreamingResampler | undefined;
  private resamplerFromHz = 0;
  private readonly startTimer: NodeJS.Timeout;
  private pendingStart: Promise<void> | undefined;

  constructor(
    private readonly ws: MediaSocket,
    private readonly pacer: Pacer,
    private readonly authorize: StartAuthorizer,
    private readonly log: TwilioMediaStreamLog,
  ) {
    this.startTimer = setTimeout(() => this.fail(new MediaProtocolError('out_of_order', 'no start message received')), START_TIMEOUT_MS);
    this.startTimer.unref();
    ws.start({
      message: (data, isBinary) => this.onMessage(data, isBinary),
      close: (code, reason) => this.end(`socket_closed:${code}${reason.length > 0 ? `:${reason}` : ''}`),
      error: (err: WebSocketProtocolError) => {
        this.log.warn({ err: err.message, streamSid: this.streamSid }, 'media stream socket error');
        // 1006: the carrier stopped reading and the socket was dropped; close() follows with the reason.
        if (err.closeCode === CloseCode.abnormal) return;
        this.fail(new MediaProtocolError(err.closeCode === CloseCode.tooBig ? 'message_too_large' : 'invalid_message', err.message));
      },
    });
  }

  get sid(): string {
    return this.streamSid;
  }

  // ---------- inbound ----------

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.phase === 'ended') return;
    // Outbound audio of every call goes first when its tick is overdue (see Pacer.poll).
    this.pacer.poll();
    try {
      if (isBinary) throw new MediaProtocolError('invalid_message', 'binary frames are not part of the protocol');
      if (scanMediaMessage(data, this.fields)) {
        this.onPlainMedia(data);
        return;
      }
      const text = data.toString('utf8');
      this.handle(parseTwilioMessage(text));
    } catch (err) {
      if (err instanceof MediaProtocolError) this.fail(err);
      else this.fail(new MediaProtocolError('invalid_message', `internal error handling message: ${(err as Error).message}`));
    }
  }

  private handle(msg: ReturnType<typeof parseTwilioMessage>): void {
    switch (msg.event) {
      case 'connected':
        if (this.phase !== 'awaiting_connected') throw new MediaProtocolError('out_of_order', 'duplicate connected message');
        this.phase = 'awaiting_start';
        return;
      case 'start': {
        if (this.phase !== 'awaiting_start' || this.pendingStart) throw new MediaProtocolError('out_of_order', `start received in phase ${this.phase}`);
        if (msg.streamSid !== msg.start.streamSid) throw new MediaProtocolError('invalid_message', 'start: streamSid mismatch');
        if (msg.start.mediaFormat.encoding !== 'audio/x-mulaw' || msg.start.mediaFormat.sampleRate !== TWILIO_RATE_HZ) {
          throw new MediaProtocolError('invalid_message', `unsupported media format ${msg.start.mediaFormat.encoding}@${msg.start.mediaFormat.sampleRate}`);
        }
        this.streamSid = msg.streamSid;
        this.streamSidBytes = Buffer.from(msg.streamSid, 'utf8');
        this.messageParts = mediaMessageParts(msg.streamSid);
        this.pendingStart = this.begin(msg).catch((err: unknown) => {
          this.log.warn({ err: (err as Error).message, streamSid: this.streamSid }, 'media stream start failed');
          this.fail(new MediaProtocolError('invalid_message', 'could not start the call'));
        });
        return;
      }
      case 'media': {
        this.requireStream(msg.streamSid, 'media');
        if (!this.handler) return; // start is being authorised; audio before that is not the caller's turn yet
        if (msg.media.track !== 'inbound') return;
        const bytes = Buffer.from(msg.media.payload, 'base64');
        if (bytes.length === 0) return;
        this.handler.onAudio(audioFrame(mulawDecode(bytes, allocSamples(bytes.length)), TWILIO_RATE_HZ), performance.now());
        return;
      }
      case 'mark':
        this.requireStream(msg.streamSid, 'mark');
        this.handler?.onMark(msg.mark.name, performance.now());
        return;
      case 'dtmf':
        this.requireStream(msg.streamSid, 'dtmf');
        this.handler?.onDtmf(msg.dtmf.digit);
        return;
      case 'stop':
        this.requireStream(msg.streamSid, 'stop');
        this.end('caller_hangup');
        this.ws.close(CLOSE_NORMAL, 'stopped');
        return;
      case 'unknown':
        this.log.debug({ event: msg.name, streamSid: this.streamSid }, 'ignoring unknown media stream event');
        return;
      default: {
        const unreachable: never = msg;
        throw new Error(`unhandled ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /**
   * A media message recognised by scanMediaMessage: the same checks, in the same order, as
   * parseTwilioMessage and handle() make (payload, then order and stream, then handler and track).
   * A payload that does not decode as plain base64 goes to the general parser, which decides.
   */
  private onPlainMedia(raw: Buffer): void {
    const f = this.fields;
    const n = base64DecodedLength(raw, f.payloadStart, f.payloadEnd);
    const samples = n > 0 ? allocSamples(n) : EMPTY_SAMPLES;
    if (n < 0 || mulawDecodeBase64(raw, f.payloadStart, f.payloadEnd, samples) < 0) {
      this.handle(parseTwilioMessage(raw.toString()));
      return;
    }
    if (this.phase === 'awaiting_connected' || (this.phase === 'awaiting_start' && !this.pendingStart)) {
      throw new MediaProtocolError('out_of_order', 'media received before start');
    }
    if (!bytesEqual(raw, f.streamSidStart, f.streamSidEnd, this.streamSidBytes)) {
      throw new MediaProtocolError('unknown_stream', `media for unknown streamSid ${raw.toString('latin1', f.streamSidStart, f.streamSidEnd).slice(0, 40)}`);
    }
    if (!this.handler) return; // start is being authorised; audio before that is not the caller's turn yet
    if (f.trackStart >= 0 && !bytesEqual(raw, f.trackStart, f.trackEnd, INBOUND)) return;
    if (n === 0) return;
    this.handler.onAudio(audioFrame(samples, TWILIO_RATE_HZ), performance.now());
  }

  private async begin(msg: StartMessage): Promise<void> {
    clearTimeout(this.startTimer);
    const result = await this.authorize(msg, this);
    if (this.phase === 'ended') {
      if (!(result instanceof MediaProtocolError)) result.onEnd('caller_hangup');
      return;
    }
    if (result instanceof MediaProtocolError) {
      this.fail(result);
      return;
    }
    this.handler = result;
    this.phase = 'streaming';
    this.pacer.add(this);
    result.onStart();
  }

  private requireStream(streamSid: string, event: string): void {
    if (this.phase === 'awaiting_connected' || (this.phase === 'awaiting_start' && !this.pendingStart)) {
      throw new MediaProtocolError('out_of_order', `${event} received before start`);
    }
    if (streamSid !== this.streamSid) throw new MediaProtocolError('unknown_stream', `${event} for unknown streamSid ${streamSid.slice(0, 40)}`);
  }

  // ---------- outbound ----------

  play(frame: AudioFrame): void {
    if (this.phase !== 'streaming') return;
    let samples = frame.samples;
    if (frame.sampleRateHz !== TWILIO_RATE_HZ) {
      if (!this.resampler || this.resamplerFromHz !== frame.sampleRateHz) {
        this.resampler = new StreamingResampler(frame.sampleRateHz, TWILIO_RATE_HZ);
        this.resamplerFromHz = frame.sampleRateHz;
      }
      samples = this.resampler.process(samples);
    }
    let offset = 0;
    while (offset < samples.length) {
      const n = Math.min(FRAME_SAMPLES - this.carryLen, samples.length - offset);
      this.carry.set(samples.subarray(offset, offset + n), this.carryLen);
      this.carryLen += n;
      offset += n;
      if (this.carryLen === FRAME_SAMPLES) this.enqueueCarry();
    }
    this.pacer.wake(this);
  }

  /** Pads the partial frame with silence so a mark lands after all audio before it. */
  private flushCarry(): void {
    if (this.carryLen === 0) return;
    this.carry.fill(0, this.carryLen);
    this.enqueueCarry();
  }

  private enqueueCarry(): void {
    if (this.tail - this.head >= this.queueFrames) this.growQueue();
    const queue = this.queue as Uint8Array;
    mulawEncodeAt(this.carry, queue, (this.tail % this.queueFrames) * FRAME_SAMPLES);
    this.tail++;
    this.carryLen = 0;
  }

  private growQueue(): void {
    const frames = Math.max(INITIAL_QUEUE_FRAMES, this.queueFrames * 2);
    const next = new Uint8Array(frames * FRAME_SAMPLES);
    const old = this.queue;
    if (old) {
      for (let k = this.head; k < this.tail; k++) {
        const from = (k % this.queueFrames) * FRAME_SAMPLES;
        next.set(old.subarray(from, from + FRAME_SAMPLES), (k % frames) * FRAME_SAMPLES);
      }
    }
    this.queue = next;
    this.queueFrames = frames;
  }

  mark(name: string): void {
    if (this.phase !== 'streaming') return;
    this.flushCarry();
    this.marks.push({ name, at: this.tail });
    this.pacer.wake(this);
  }

  clear(): void {
    if (this.phase !== 'streaming') return;
    this.dropQueued();
    this.carryLen = 0;
    this.resampler = undefined;
    this.pacer.reset(this);
    this.ws.send(encodeClear(this.streamSid));
  }

  private dropQueued(): void {
    this.head = this.tail;
    this.marks.length = 0;
    if (this.queueFrames > MAX_IDLE_QUEUE_FRAMES) {
      this.queue = undefined;
      this.queueFrames = 0;
    }
  }

  get hasQueued(): boolean {
    return this.head < this.tail || this.marks.length > 0;
  }

  /**
   * Sends a due mark, or up to `maxMs` of queued audio (at least one frame) as one media message —
   * never past a pending mark, which must follow exactly the audio queued before it. Each frame
   * goes to the handler's echo reference as sent.
   */
  sendNext(nowMs: number, maxMs: number): number {
    const mark = this.marks[0];
    if (mark !== undefined && mark.at <= this.head) {
      this.marks.shift();
      this.ws.send(encodeMark(this.streamSid, mark.name));
      return 0;
    }
    if (this.head >= this.tail) return -1;
    let frames = Math.min(this.tail - this.head, Math.max(1, Math.min(MAX_MESSAGE_FRAMES, Math.floor(maxMs / FRAME_MS))));
    if (mark !== undefined) frames = Math.min(frames, mark.at - this.head);
    const queue = this.queue as Uint8Array;
    for (let i = 0; i < frames; i++) {
      const from = ((this.head + i) % this.queueFrames) * FRAME_SAMPLES;
      messageBytes.set(queue.subarray(from, from + FRAME_SAMPLES), i * FRAME_SAMPLES);
    }
    const bytes = frames * FRAME_SAMPLES;
    // A fresh (pooled) buffer per message: the socket may still hold it after send() returns.
    const { prefix, suffix } = this.messageParts as { prefix: Buffer; suffix: Buffer };
    const length = prefix.length + mulawBase64Length(bytes) + suffix.length;
    const message = Buffer.allocUnsafe(frameHeaderLength(length) + length);
    const start = writeFrameHeader(message, OP_TEXT, length);
    prefix.copy(message, start);
    suffix.copy(message, base64EncodeInto(messageBytes, 0, bytes, message, start + prefix.length));
    this.head += frames;
    if (this.head === this.tail && this.marks.length === 0 && this.queueFrames > MAX_IDLE_QUEUE_FRAMES) this.dropQueued();
    this.ws.sendFrame(message);
    for (let i = 0; i < frames; i++) {
      // 160 table lookups: exactly what the caller will hear, for echo suppression.
      mulawDecodeAt(messageBytes, i * FRAME_SAMPLES, FRAME_SAMPLES, this.sentSamples);
      this.handler?.onAudioSent(FRAME_MS, nowMs, this.sentSamples);
    }
    return frames * FRAME_MS;
  }

  hangup(reason: string): void {
    if (this.phase === 'ended') return;
    this.end(reason);
    this.ws.close(CLOSE_NORMAL, reason.slice(0, 120));
  }

  // ---------- ending ----------

  private fail(err: MediaProtocolError): void {
    if (this.phase === 'ended') return;
    this.log.warn({ code: err.code, reason: err.message, streamSid: this.streamSid }, 'closing media stream on bad input');
    this.end(`stream_error:${err.code}`);
    // Close reasons are limited to 123 bytes.
    const reason = `${err.code}: ${err.message}`.slice(0, 120);
    if (this.ws.readyState === ReadyState.open) this.ws.close(CLOSE_POLICY, reason);
  }

  private end(reason: string): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    clearTimeout(this.startTimer);
    this.head = this.tail;
    this.marks.length = 0;
    this.queue = undefined;
    this.queueFrames = 0;
    this.pacer.remove(this);
    const h = this.handler;
    this.handler = undefined;
    h?.onEnd(reason);
  }
}

