import type WebSocket from 'ws';
import { audioFrame } from '../../audio/frame.js';
import { mulawDecode, mulawEncode } from '../../audio/mulaw.js';
import { StreamingResampler } from '../../audio/resampler.js';
import type { AudioFrame } from '../../audio/frame.js';
import type { PacedStream, Pacer } from '../../pipeline/pacer.js';
import type { MediaHandler, MediaTransport } from '../types.js';
import { encodeClear, encodeMark, encodeMedia, MediaProtocolError, parseTwilioMessage, type StartMessage } from './media-protocol.js';

/** Twilio media is 8 kHz mu-law; outbound frames are 20 ms = 160 bytes. */
const TWILIO_RATE_HZ = 8000;
const FRAME_SAMPLES = 160;
const FRAME_MS = 20;
/** A media stream that has not sent `start` this long after connecting is dropped. */
export const START_TIMEOUT_MS = 10_000;

/** WebSocket close codes used for bad input (RFC 6455 §7.4.1). */
export const CLOSE_POLICY = 1008;
export const CLOSE_NORMAL = 1000;

type Phase = 'awaiting_connected' | 'awaiting_start' | 'streaming' | 'ended';

type QueueItem = { kind: 'audio'; message: string } | { kind: 'mark'; name: string };

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
 */
export class TwilioMediaStream implements MediaTransport, PacedStream {
  readonly sampleRateHz = TWILIO_RATE_HZ;
  private phase: Phase = 'awaiting_connected';
  private handler: MediaHandler | undefined;
  private streamSid = '';
  private readonly queue: QueueItem[] = [];
  private readonly carry = new Int16Array(FRAME_SAMPLES);
  private carryLen = 0;
  private resampler: StreamingResampler | undefined;
  private resamplerFromHz = 0;
  private readonly startTimer: NodeJS.Timeout;
  private pendingStart: Promise<void> | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly pacer: Pacer,
    private readonly authorize: StartAuthorizer,
    private readonly log: TwilioMediaStreamLog,
  ) {
    this.startTimer = setTimeout(() => this.fail(new MediaProtocolError('out_of_order', 'no start message received')), START_TIMEOUT_MS);
    this.startTimer.unref();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code, reason) => this.end(`socket_closed:${code}${reason.length > 0 ? `:${reason.toString()}` : ''}`));
    ws.on('error', (err) => {
      this.log.warn({ err: err.message, streamSid: this.streamSid }, 'media stream socket error');
      this.fail(new MediaProtocolError(err.message.includes('Max payload') ? 'message_too_large' : 'invalid_message', err.message));
    });
  }

  get sid(): string {
    return this.streamSid;
  }

  // ---------- inbound ----------

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.phase === 'ended') return;
    try {
      if (isBinary) throw new MediaProtocolError('invalid_message', 'binary frames are not part of the protocol');
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
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
        this.handler.onAudio(audioFrame(mulawDecode(bytes), TWILIO_RATE_HZ), performance.now());
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
    const bytes = mulawEncode(this.carry);
    this.queue.push({ kind: 'audio', message: encodeMedia(this.streamSid, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')) });
    this.carryLen = 0;
  }

  mark(name: string): void {
    if (this.phase !== 'streaming') return;
    this.flushCarry();
    this.queue.push({ kind: 'mark', name });
    this.pacer.wake(this);
  }

  clear(): void {
    if (this.phase !== 'streaming') return;
    this.queue.length = 0;
    this.carryLen = 0;
    this.resampler = undefined;
    this.pacer.reset(this);
    this.send(encodeClear(this.streamSid));
  }

  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  sendNext(nowMs: number): number {
    const item = this.queue.shift();
    if (!item) return -1;
    if (item.kind === 'mark') {
      this.send(encodeMark(this.streamSid, item.name));
      return 0;
    }
    this.send(item.message);
    this.handler?.onAudioSent(FRAME_MS, nowMs);
    return FRAME_MS;
  }

  private send(message: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(message);
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
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(CLOSE_POLICY, reason);
  }

  private end(reason: string): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    clearTimeout(this.startTimer);
    this.queue.length = 0;
    this.pacer.remove(this);
    const h = this.handler;
    this.handler = undefined;
    h?.onEnd(reason);
  }
}

