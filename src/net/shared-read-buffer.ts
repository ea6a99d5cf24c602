/**
 * Reads a TCP socket into one buffer shared by every such socket of the process, instead of a new
 * Buffer per read. Node's default read path allocates an ArrayBuffer for every read (malloc, a
 * JS wrapper, and a backing store the young-generation collector must sweep); at 25 000 media
 * messages a second, one read each, that was a measurable share of every scavenge's pause.
 *
 * This is Node's documented `onread` option of `net.Socket` (a caller-supplied buffer reused for
 * every read), which Node only offers when it creates the socket. A socket the HTTP server accepted
 * and then handed over on a WebSocket upgrade is switched to it here, through the same internal
 * fields `onread` sets: they are found on a probe socket at start-up, and if this Node does not
 * have them (or the socket is not a plain TCP socket) nothing is switched and the caller reads
 * 'data' events as usual.
 *
 * The bytes handed to `onBytes` are only valid during that call: the next read of any socket
 * overwrites them. Reads are delivered from the event loop, never inside another socket's callback,
 * so one buffer is enough.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** What libuv would suggest for one read. */
const SHARED_READ_BYTES = 64 * 1024;

interface OnreadFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

/** The internal fields Node's `onread` option sets on a socket, or undefined if this Node has none. */
const onreadFields: OnreadFields | undefined = (() => {
  try {
    const buffer = Buffer.alloc(1);
    const callback = (): boolean => true;
    // `onread` is accepted by the constructor as by net.connect(); @types/node lists it only for the latter.
    const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0]);
    const own = probe as unknown as Record<symbol, unknown>;
    const symbols = Object.getOwnPropertySymbols(probe);
    const find = (description: string): symbol | undefined => symbols.find((s) => s.description === description);
    const fields = { buffer: find('kBuffer'), callback: find('kBufferCb'), generator: find('kBufferGen') };
    probe.destroy();
    if (fields.buffer === undefined || fields.callback === undefined || fields.generator === undefined) return undefined;
    if (own[fields.buffer] !== buffer || own[fields.callback] !== callback || own[fields.generator] !== null) return undefined;
    return fields as OnreadFields;
  } catch {
    return undefined;
  }
})();

let shared: Buffer | undefined;

interface TcpHandle {
  useUserBuffer?(buffer: Uint8Array): void;
}

/**
 * Switches `socket` to reading into the shared buffer: from now on every read calls
 * `onBytes(buffer, length)` (bytes `0..length` of `buffer`) instead of emitting 'data'. 'end',
 * 'error' and 'close' are emitted as before. Call it synchronously where the socket is handed over
 * (no read can happen in between). Returns false, changing nothing, when the socket cannot be
 * switched: then listen for 'data'.
 */
export function readIntoSharedBuffer(socket: Duplex, onBytes: (buffer: Buffer, length: number) => void): boolean {
  if (onreadFields === undefined || !(socket instanceof Socket) || (socket as Socket & { encrypted?: boolean }).encrypted) return false;
  const handle = (socket as Socket & { _handle?: TcpHandle | null })._handle;
  if (handle == null || typeof handle.useUserBuffer !== 'function') return false;
  // Bytes the socket already read into its stream buffer (none after an HTTP upgrade) come first.
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) onBytes(chunk, chunk.length);
  shared ??= Buffer.allocUnsafe(SHARED_READ_BYTES);
  const own = socket as unknown as Record<symbol, unknown>;
  own[onreadFields.buffer] = shared;
  own[onreadFields.callback] = (length: number, buffer: Buffer): void => onBytes(buffer, length);
  own[onreadFields.generator] = null;
  handle.useUserBuffer(shared);
  socket.resume();
  return true;
}
