/**
 * The server end of one WebSocket connection (RFC 6455 framing), after the opening handshake
 * (websocket-handshake.ts). Written for carrier media streams: tens of thousands of small masked
 * text messages per second on one core, where a general-purpose library's per-message stream
 * plumbing (a Writable per connection, several Buffer views and events per message) was a tenth of
 * the server's time.
 *
 * What it does per message: frames are parsed straight out of the socket's chunks, unmasked in place,
 * text checked for valid UTF-8, and handed to the handler as a view of the chunk (valid during the
 * call only: a handler that keeps the bytes copies them). Fragmented messages are reassembled;
 * pings answered; the close handshake is done both ways. Any protocol violation closes the connection
 * with the RFC's status code (1002 protocol error, 1007 invalid UTF-8, 1009 too big) and is reported
 * to the handler once. No extensions (no compression) and no subprotocols.
 */
import { createRequire } from 'node:module';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { readIntoSharedBuffer } from './shared-read-buffer.js';

/** Close codes of RFC 6455 §7.4.1 this module sends. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  noStatus: 1005,
  abnormal: 1006,
  invalidPayload: 1007,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

/** How long a close handshake we started may wait for the peer's close frame before the socket is dropped. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Control frames carry at most 125 bytes (§5.5); a close reason at most 123 after the code. */
const MAX_CONTROL_PAYLOAD = 125;
const MAX_CLOSE_REASON_BYTES = 123;

const OP_CONTINUATION = 0x0;
/** The opcode of a text frame (for writeFrameHeader). */
export const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export const ReadyState = { open: 1, closing: 2, closed: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** A protocol violation by the peer, with the close code it was answered with. */
export class WebSocketProtocolError extends Error {
  constructor(
    readonly closeCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'WebSocketProtocolError';
  }
}

export interface WebSocketHandler {
  /** One whole message. `data` is a view that is only valid during this call. */
  message(data: Buffer, isBinary: boolean): void;
  /** The connection closed: the peer's close code and reason, or 1006 when the socket just went away. Called once. */
  close(code: number, reason: string): void;
  /** The peer broke the protocol; the connection is being closed with `err.closeCode`. Followed by close(). */
  error(err: WebSocketProtocolError): void;
}

export interface WebSocketConnectionOptions {
  /** Largest message accepted (after reassembly), bytes; bigger ones close the connection with 1009. */
  readonly maxPayload: number;
  /**
   * Most bytes written but not yet taken by the peer before the connection is dropped as dead (a peer
   * that stopped reading would otherwise make us hold everything sent to it). Default 4 MiB: about
   * five minutes of a Twilio call's outbound audio.
   */
  readonly maxBufferedBytes?: number;
}

const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

type Unmask = (buffer: Buffer, mask: Buffer) => void;

/** Native unmasking when the optional `bufferutil` addon is installed (10× faster on 300-byte messages). */
const nativeUnmask: Unmask | undefined = (() => {
  try {
    return (createRequire(import.meta.url)('bufferutil') as { unmask: Unmask }).unmask;
  } catch {
    return undefined;
  }
})();

/** Below this many bytes a JS loop beats the call into the addon. */
const NATIVE_UNMASK_MIN_BYTES = 32;

function unmask(data: Buffer, mask: Buffer): void {
  if (nativeUnmask !== undefined && data.length >= NATIVE_UNMASK_MIN_BYTES) {
    nativeUnmask(data, mask);
    return;
  }
  for (let i = 0; i < data.length; i++) data[i]! ^= mask[i & 3]!;
}

/** Bytes of the header of an unmasked (server) frame carrying `payloadLength` bytes. */
export function frameHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
}

/** Writes a final, unmasked frame header at the start of `frame`; returns where the payload begins. */
export function writeFrameHeader(frame: Buffer, opcode: number, payloadLength: number): number {
  frame[0] = 0x80 | opcode;
  if (payloadLength < 126) {
    frame[1] = payloadLength;
    return 2;
  }
  if (payloadLength < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(payloadLength, 2);
    return 4;
  }
  frame[1] = 127;
  frame.writeUInt32BE(Math.floor(payloadLength / 2 ** 32), 2);
  frame.writeUInt32BE(payloadLength >>> 0, 6);
  return 10;
}

/** A final, unmasked frame carrying `payload`. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(frameHeaderLength(payload.length) + payload.length);
  payload.copy(frame, writeFrameHeader(frame, opcode, payload.length));
  return frame;
}

/** Whether `code` may appear in a close frame (§7.4: 1004–1006 and 1015 are never sent; 3000–4999 are for applications). */
function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

export class WebSocketConnection {
  #state: ReadyState = ReadyState.open;
  #handler: WebSocketHandler | undefined;
  /** Bytes of an incomplete frame, waiting for the rest; `#pendingBytes` in all. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** How many bytes must be pending before it is worth parsing again. */
  #need = 2;
  /** The message being reassembled from fragments: its opcode (0 = none) and its parts. */
  #fragmentOpcode = 0;
  #fragments: Buffer[] = [];
  #fragmentBytes = 0;
  /** This frame's masking key (copied, so unmasking needs no new view). */
  readonly #mask = Buffer.alloc(4);
  #closeSent = false;
  #closeCode: number = CloseCode.abnormal;
  #closeReason = '';
  #closeTimer: NodeJS.Timeout | undefined;
  /** Set once reading must stop: a close frame arrived or the peer broke the protocol. */
  #readingDone = false;
  /** The socket's Readable state, when it exposes the flag that skips a tick per chunk (see #onData). */
  #readState: { readingMore: boolean } | undefined;
  /** Whether the socket reads into the process's shared buffer (shared-read-buffer.ts) rather than emitting 'data'. */
  #sharedReads = false;
  /** Bytes read past the handshake, parsed when reading starts. */
  #head: Buffer | undefined;

  /**
   * @param head what the HTTP parser read past the handshake (the first frames, if the client sent them
   *   at once); parsed when reading starts.
   */
  constructor(
    private readonly socket: Duplex,
    head: Buffer | undefined,
    private readonly o: WebSocketConnectionOptions,
  ) {
    // Copied: the HTTP parser's `head` is a view of its whole read buffer (64 KiB), even when empty.
    if (head !== undefined && head.length > 0) this.#head = Buffer.from(head);
  }

  /** Starts reading; every message, the close and any protocol error go to `handler`. */
  start(handler: WebSocketHandler): void {
    this.#handler = handler;
    const socket = this.socket as Duplex & { setNoDelay?(on: boolean): void; setTimeout?(ms: number): void };
    socket.setNoDelay?.(true);
    socket.setTimeout?.(0);
    this.#sharedReads = readIntoSharedBuffer(socket, this.#onBytes);
    if (!this.#sharedReads) {
      const state = (socket as { _readableState?: { readingMore?: unknown } })._readableState;
      if (state !== undefined && typeof state.readingMore === 'boolean') this.#readState = state as { readingMore: boolean };
      socket.on('data', this.#onData);
    }
    socket.on('end', () => {
      // The peer half-closed without a close frame, or after ours: nothing more will come.
      this.#readingDone = true;
      this.socket.end();
    });
    socket.on('error', () => {
      // A reset or a write after the peer went: 'close' follows and reports 1006.
    });
    socket.on('close', () => this.#onSocketClose());
    const head = this.#head;
    this.#head = undefined;
    if (head !== undefined) this.#onBytes(head, head.length);
  }

  /** Whether reads go to the process's shared buffer (a plain TCP socket on a Node that allows it) instead of 'data' events. */
  get sharedReads(): boolean {
    return this.#sharedReads;
  }

  get readyState(): ReadyState {
    return this.#state;
  }

  /** Bytes written but not yet handed to the kernel. */
  get bufferedAmount(): number {
    return (this.socket as Duplex & { writableLength: number }).writableLength;
  }

  /** Sends one message (a text frame unless `binary`). Ignored unless the connection is open. */
  send(data: string | Buffer, binary = false): void {
    if (this.#state !== ReadyState.open) return;
    this.#write(encodeFrame(binary ? OP_BINARY : OP_TEXT, typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
  }

  /**
   * Sends a text frame the caller built: `frame` holds a header written by writeFrameHeader (sized by
   * frameHeaderLength) followed by valid UTF-8. Saves copying large messages. The socket keeps `frame`.
   */
  sendFrame(frame: Buffer): void {
    if (this.#state !== ReadyState.open) return;
    this.#write(frame);
  }

  #write(frame: Buffer): void {
    this.socket.write(frame);
    if (this.bufferedAmount <= (this.o.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES)) return;
    // The peer has stopped reading: a close frame would queue behind the backlog, so drop the socket.
    this.#closeCode = CloseCode.abnormal;
    this.#closeReason = 'peer stopped reading';
    this.#notify(() => this.#handler?.error(new WebSocketProtocolError(CloseCode.abnormal, `peer stopped reading: ${this.bufferedAmount} bytes unsent`)));
    this.terminate();
  }

  /** Starts the closing handshake; the socket is dropped if the peer does not answer within 5 s. */
  close(code: number = CloseCode.normal, reason = ''): void {
    if (this.#state !== ReadyState.open) return;
    this.#state = ReadyState.closing;
    this.#sendClose(code, reason);
    this.#closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref();
  }

  /** Drops the connection at once, without a closing handshake. */
  terminate(): void {
    if (this.#state === ReadyState.closed) return;
    this.#state = ReadyState.closing;
    this.#readingDone = true;
    this.socket.destroy();
  }

  // ---------- reading ----------

  /** 'data' events, where the socket could not be switched to the shared read buffer. */
  readonly #onData = (chunk: Buffer): void => {
    // After each chunk a flowing Readable schedules a process.nextTick (maybeReadMore) to call read(0),
    // a no-op for a socket whose handle is already reading (libuv reads until the stream is paused).
    // On Node 20 every such tick also allocates a Map (processPromiseRejections): at 25 000 reads a
    // second the two were a fifth of all the server's allocation. Flagging the read-more as already
    // pending, right before Node checks it, skips the tick. Pausing and resuming do not depend on it.
    if (this.#readState !== undefined) this.#readState.readingMore = true;
    this.#onBytes(chunk, chunk.length);
  };

  /**
   * Bytes `0..length` of `chunk`, which may be the process's shared read buffer (shared-read-buffer.ts):
   * valid during this call only, so whatever must outlive it (an incomplete frame, a fragment) is copied.
   */
  readonly #onBytes = (chunk: Buffer, length: number): void => {
    if (this.#readingDone) return;
    let buf = chunk;
    let end = length;
    if (this.#pendingBytes > 0) {
      const piece = chunk.subarray(0, length);
      if (this.#pendingBytes + length < this.#need) {
        this.#pending.push(Buffer.from(piece));
        this.#pendingBytes += length;
        return;
      }
      // Completed: one copy of everything into a buffer of its own (the piece is not copied twice).
      buf = Buffer.concat([...this.#pending, piece], this.#pendingBytes + length);
      end = buf.length;
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let off = 0;
    while (off < end && !this.#readingDone) {
      const next = this.#frame(buf, off, end);
      if (next < 0) break;
      off = next;
    }
    if (off < end && !this.#readingDone) {
      const rest = Buffer.from(buf.subarray(off, end));
      this.#pending.push(rest);
      this.#pendingBytes = rest.length;
    }
  };

  /**
   * Parses and dispatches the frame at `off`. Returns the offset after it, or -1 when the frame is not
   * complete yet (then `#need` says how many bytes from `off` are needed) or reading stopped.
   */
  #frame(buf: Buffer, off: number, end: number): number {
    const avail = end - off;
    if (avail < 2) return this.#wait(2);
    const b0 = buf[off]!;
    const b1 = buf[off + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.#fail(CloseCode.protocolError, 'RSV bits set without a negotiated extension');
    if ((b1 & 0x80) === 0) return this.#fail(CloseCode.protocolError, 'client frames must be masked');
    let length = b1 & 0x7f;
    let header = 6;
    if (length === 126) {
      if (avail < 4) return this.#wait(4);
      length = buf.readUInt16BE(off + 2);
      header = 8;
    } else if (length === 127) {
      if (avail < 10) return this.#wait(10);
      const high = buf.readUInt32BE(off + 2);
      const low = buf.readUInt32BE(off + 6);
      if (high !== 0 || low > this.o.maxPayload) return this.#fail(CloseCode.tooBig, 'Max payload size exceeded');
      length = low;
      header = 14;
    }
    const control = opcode >= OP_CLOSE;
    if (control) {
      if (!fin) return this.#fail(CloseCode.protocolError, 'control frames must not be fragmented');
      if (length > MAX_CONTROL_PAYLOAD) return this.#fail(CloseCode.protocolError, 'control frame payload longer than 125 bytes');
    } else if (this.#fragmentBytes + length > this.o.maxPayload) {
      // Refused before its bytes arrive: a peer cannot make us buffer more than maxPayload.
      return this.#fail(CloseCode.tooBig, 'Max payload size exceeded');
    }
    if (avail < header + length) return this.#wait(header + length);
    const mask = this.#mask;
    mask[0] = buf[off + header - 4]!;
    mask[1] = buf[off + header - 3]!;
    mask[2] = buf[off + header - 2]!;
    mask[3] = buf[off + header - 1]!;
    const payload = buf.subarray(off + header, off + header + length);
    unmask(payload, mask);
    const frameEnd = off + header + length;
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
        if (this.#fragmentOpcode !== 0) return this.#fail(CloseCode.protocolError, 'new message started inside a fragmented one');
        if (fin) return this.#deliver(payload, opcode) ? frameEnd : -1;
        this.#fragmentOpcode = opcode;
        this.#addFragment(payload);
        return frameEnd;
      case OP_CONTINUATION: {
        if (this.#fragmentOpcode === 0) return this.#fail(CloseCode.protocolError, 'continuation frame without a message to continue');
        this.#addFragment(payload);
        if (!fin) return frameEnd;
        const whole = Buffer.concat(this.#fragments, this.#fragmentBytes);
        const op = this.#fragmentOpcode;
        this.#fragmentOpcode = 0;
        this.#fragments = [];
        this.#fragmentBytes = 0;
        return this.#deliver(whole, op) ? frameEnd : -1;
      }
      case OP_CLOSE:
        this.#onCloseFrame(payload);
        return -1;
      case OP_PING:
        this.#sendControl(OP_PONG, payload);
        return frameEnd;
      case OP_PONG:
        return frameEnd;
      default:
        return this.#fail(CloseCode.protocolError, `unknown opcode ${opcode}`);
    }
  }

  #wait(need: number): number {
    this.#need = need;
    return -1;
  }

  /** Fragments are copied: the chunk they came in may be the shared read buffer. */
  #addFragment(payload: Buffer): void {
    this.#fragments.push(Buffer.from(payload));
    this.#fragmentBytes += payload.length;
  }

  /** Hands a whole message to the handler; false when reading stopped (bad UTF-8, or the handler closed us). */
  #deliver(payload: Buffer, opcode: number): boolean {
    const text = opcode === OP_TEXT;
    if (text && !isUtf8(payload)) {
      this.#fail(CloseCode.invalidPayload, 'text message is not valid UTF-8');
      return false;
    }
    try {
      this.#handler?.message(payload, !text);
    } catch (err) {
      // A bug while handling one message closes this connection (1011), never the process.
      this.#fail(CloseCode.internalError, `internal error handling a message: ${(err as Error).message}`);
      return false;
    }
    return !this.#readingDone;
  }

  #onCloseFrame(payload: Buffer): void {
    this.#readingDone = true;
    let code: number = CloseCode.noStatus;
    let reason = '';
    if (payload.length === 1) {
      this.#fail(CloseCode.protocolError, 'close frame with a 1-byte payload');
      return;
    }
    if (payload.length >= 2) {
      code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) {
        this.#fail(CloseCode.protocolError, `invalid close code ${code}`);
        return;
      }
      const reasonBytes = payload.subarray(2);
      if (!isUtf8(reasonBytes)) {
        this.#fail(CloseCode.invalidPayload, 'close reason is not valid UTF-8');
        return;
      }
      reason = reasonBytes.toString('utf8');
    }
    this.#closeCode = code;
    this.#closeReason = reason;
    if (this.#state === ReadyState.open) {
      this.#state = ReadyState.closing;
      // Echo the peer's code (none if it sent none), then the server closes the TCP connection first (§7.1.1).
      if (code === CloseCode.noStatus) this.#sendControl(OP_CLOSE, Buffer.alloc(0));
      else this.#sendClose(code, '');
    }
    this.socket.end();
  }

  /** Answers a protocol violation: close frame with `code`, report, stop reading, end the socket. Returns -1. */
  #fail(code: number, message: string): number {
    this.#readingDone = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#fragments = [];
    const err = new WebSocketProtocolError(code, message);
    if (this.#state === ReadyState.open) {
      this.#state = ReadyState.closing;
      this.#sendClose(code, message);
    }
    this.#closeCode = code;
    this.#closeReason = message;
    this.#notify(() => this.#handler?.error(err));
    this.socket.end();
    this.#closeTimer ??= setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref();
    return -1;
  }

  // ---------- writing ----------

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    let reasonBytes: Buffer = Buffer.from(reason, 'utf8');
    if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) reasonBytes = truncateUtf8(reasonBytes, MAX_CLOSE_REASON_BYTES);
    const payload = Buffer.allocUnsafe(2 + reasonBytes.length);
    payload.writeUInt16BE(code, 0);
    reasonBytes.copy(payload, 2);
    this.#sendControl(OP_CLOSE, payload);
  }

  #sendControl(opcode: number, payload: Buffer): void {
    if (this.#closeSent || this.socket.destroyed || !this.socket.writable) return;
    if (opcode === OP_CLOSE) this.#closeSent = true;
    this.socket.write(encodeFrame(opcode, payload));
  }

  #onSocketClose(): void {
    if (this.#state === ReadyState.closed) return;
    this.#state = ReadyState.closed;
    this.#readingDone = true;
    clearTimeout(this.#closeTimer);
    this.#notify(() => this.#handler?.close(this.#closeCode, this.#closeReason));
  }

  /** Runs a close/error callback; one that throws is reported as a warning instead of crashing the process. */
  #notify(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      process.emitWarning(`WebSocket connection handler failed: ${(err as Error).message}`);
    }
  }
}

/** The longest prefix of `bytes` of at most `max` bytes that does not split a UTF-8 character. */
function truncateUtf8(bytes: Buffer, max: number): Buffer {
  let end = max;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
