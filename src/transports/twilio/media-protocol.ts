import { z } from 'zod';

/**
 * Twilio Media Streams wire protocol (bidirectional <Connect><Stream>), as documented at
 * https://www.twilio.com/docs/voice/media-streams/websocket-messages. Pure: parse and encode only.
 * Note the documented types: sequenceNumber, chunk and timestamp are JSON strings.
 */

export type ProtocolErrorCode =
  | 'malformed_json'
  | 'invalid_message'
  | 'invalid_payload'
  | 'out_of_order'
  | 'unknown_stream'
  | 'unauthorized'
  | 'message_too_large';

/** Bad input on a media stream; closes that stream (only) with `code` as the reason. */
export class MediaProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MediaProtocolError';
  }
}

const numericString = z.string().regex(/^\d+$/);

const connectedSchema = z.object({ event: z.literal('connected'), protocol: z.string(), version: z.string() });

const startSchema = z.object({
  event: z.literal('start'),
  sequenceNumber: numericString,
  streamSid: z.string().min(1),
  start: z.object({
    accountSid: z.string(),
    streamSid: z.string().min(1),
    callSid: z.string().min(1),
    tracks: z.array(z.string()),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }),
    customParameters: z.record(z.string(), z.string()).default({}),
  }),
});

const markSchema = z.object({
  event: z.literal('mark'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  mark: z.object({ name: z.string() }),
});

const dtmfSchema = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  dtmf: z.object({ track: z.string(), digit: z.string().regex(/^[0-9*#A-D]$/) }),
});

const stopSchema = z.object({
  event: z.literal('stop'),
  sequenceNumber: numericString,
  streamSid: z.string(),
  stop: z.object({ accountSid: z.string(), callSid: z.string() }),
});

export type ConnectedMessage = z.infer<typeof connectedSchema>;
export type StartMessage = z.infer<typeof startSchema>;
export type MarkMessage = z.infer<typeof markSchema>;
export type DtmfMessage = z.infer<typeof dtmfSchema>;
export type StopMessage = z.infer<typeof stopSchema>;
export interface MediaMessage {
  readonly event: 'media';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly media: { readonly track: string; readonly chunk: string; readonly timestamp: string; readonly payload: string };
}
/** A message kind this version does not know; ignored for forward compatibility. */
export interface UnknownMessage {
  readonly event: 'unknown';
  readonly name: string;
}

export type TwilioInboundMessage = ConnectedMessage | StartMessage | MediaMessage | MarkMessage | DtmfMessage | StopMessage | UnknownMessage;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function checked<T>(schema: z.ZodType<T>, obj: unknown, event: string): T {
  const r = schema.safeParse(obj);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new MediaProtocolError('invalid_message', `${event}: ${issue?.path.join('.') || '(message)'} ${issue?.message ?? 'invalid'}`);
  }
  return r.data;
}

/** Parses one WebSocket text message from Twilio. Throws MediaProtocolError on bad input. */
export function parseTwilioMessage(raw: string): TwilioInboundMessage {
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    throw new MediaProtocolError('malformed_json', 'message is not valid JSON');
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new MediaProtocolError('invalid_message', 'message is not a JSON object');
  }
  const event = (obj as { event?: unknown }).event;
  switch (event) {
    case 'media':
      return parseMedia(obj as Record<string, unknown>);
    case 'connected':
      return checked(connectedSchema, obj, event);
    case 'start':
      return checked(startSchema, obj, event);
    case 'mark':
      return checked(markSchema, obj, event);
    case 'dtmf':
      return checked(dtmfSchema, obj, event);
    case 'stop':
      return checked(stopSchema, obj, event);
    default:
      if (typeof event !== 'string') throw new MediaProtocolError('invalid_message', 'message has no "event" string');
      return { event: 'unknown', name: event };
  }
}

/** Hot path (50 messages/s per call): hand-checked, no schema allocation. */
function parseMedia(obj: Record<string, unknown>): MediaMessage {
  const media = obj.media as Record<string, unknown> | undefined;
  if (typeof obj.streamSid !== 'string' || media === null || typeof media !== 'object') {
    throw new MediaProtocolError('invalid_message', 'media: streamSid and media are required');
  }
  const payload = media.payload;
  if (typeof payload !== 'string' || !BASE64.test(payload)) {
    throw new MediaProtocolError('invalid_payload', 'media: payload is not valid base64');
  }
  return {
    event: 'media',
    sequenceNumber: String(obj.sequenceNumber ?? ''),
    streamSid: obj.streamSid,
    media: {
      track: typeof media.track === 'string' ? media.track : 'inbound',
      chunk: String(media.chunk ?? ''),
      timestamp: String(media.timestamp ?? ''),
      payload,
    },
  };
}

/** Outbound audio: base64 mu-law for playback on the call. */
export function encodeMedia(streamSid: string, payloadBase64: string): string {
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${payloadBase64}"}}`;
}

/** Asks Twilio to echo `name` when playback reaches this point. */
export function encodeMark(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

/** Discards the audio Twilio has buffered for playback (barge-in). */
export function encodeClear(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}

// ---------- hot path: media messages straight from the WebSocket bytes ----------

/** Where the fields of a `media` message the audio path reads sit in its raw bytes (end exclusive; -1 when absent). */
export interface MediaFields {
  streamSidStart: number;
  streamSidEnd: number;
  /** -1 when the message has no track (parseTwilioMessage then assumes 'inbound'). */
  trackStart: number;
  trackEnd: number;
  payloadStart: number;
  payloadEnd: number;
}

export function emptyMediaFields(): MediaFields {
  return { streamSidStart: -1, streamSidEnd: -1, trackStart: -1, trackEnd: -1, payloadStart: -1, payloadEnd: -1 };
}

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const BACKSLASH = 0x5c;
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_EVENT = ascii('event');
const K_SEQUENCE = ascii('sequenceNumber');
const K_STREAM_SID = ascii('streamSid');
const K_MEDIA = ascii('media');
const K_TRACK = ascii('track');
const K_CHUNK = ascii('chunk');
const K_TIMESTAMP = ascii('timestamp');
const K_PAYLOAD = ascii('payload');
const V_MEDIA = K_MEDIA;

/** Whether raw[start, end) holds exactly the bytes of `word`. */
export function bytesEqual(raw: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (raw[start + i] !== word[i]) return false;
  return true;
}

/**
 * End (index of the closing quote) of the plain string starting at raw[i] (an opening quote), or -1
 * when it is not a string there or not plain: plain strings hold printable ASCII only, no escapes,
 * so their bytes are their value.
 */
function plainString(raw: Uint8Array, i: number): number {
  if (raw[i] !== QUOTE) return -1;
  for (let j = i + 1; j < raw.length; j++) {
    const c = raw[j]!;
    if (c === QUOTE) return j;
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return -1;
  }
  return -1;
}

/**
 * End of the string starting at raw[i], taking the next quote as its end without looking at what
 * is in between: for the payload, whose base64 decoder rejects anything that is not plain.
 */
function rawString(raw: Uint8Array, i: number): number {
  if (raw[i] !== QUOTE) return -1;
  for (let j = i + 1; j < raw.length; j++) if (raw[j] === QUOTE) return j;
  return -1;
}

/** Parses the `media` member's object at raw[i]; returns the index of its closing brace, or -1. */
function scanMediaObject(raw: Uint8Array, i: number, out: MediaFields): number {
  if (raw[i] !== OPEN) return -1;
  let seen = 0;
  let at = i + 1;
  for (;;) {
    const keyEnd = plainString(raw, at);
    if (keyEnd < 0 || raw[keyEnd + 1] !== COLON) return -1;
    const k = at + 1;
    const valueStart = keyEnd + 2;
    let valueEnd: number;
    let bit: number;
    if (bytesEqual(raw, k, keyEnd, K_PAYLOAD)) {
      bit = 1;
      valueEnd = rawString(raw, valueStart);
      out.payloadStart = valueStart + 1;
      out.payloadEnd = valueEnd;
    } else {
      valueEnd = plainString(raw, valueStart);
      const first = raw[k];
      if (first === 0x74 /* t */ && bytesEqual(raw, k, keyEnd, K_TRACK)) {
        bit = 2;
        out.trackStart = valueStart + 1;
        out.trackEnd = valueEnd;
      } else if (first === 0x63 /* c */ && bytesEqual(raw, k, keyEnd, K_CHUNK)) bit = 4;
      else if (first === 0x74 && bytesEqual(raw, k, keyEnd, K_TIMESTAMP)) bit = 8;
      else return -1;
    }
    // A duplicate key is left to JSON.parse (last one wins).
    if (valueEnd < 0 || (seen & bit) !== 0) return -1;
    seen |= bit;
    at = valueEnd + 1;
    const next = raw[at];
    if (next === COMMA) {
      at++;
      continue;
    }
    return next === CLOSE && (seen & 1) !== 0 ? at : -1;
  }
}

/**
 * Recognises a `media` message — 50 per second per call — straight from the WebSocket bytes,
 * without JSON.parse or strings, and records where its fields are in `out`.
 *
 * Only the plain form is recognised: one JSON object without whitespace whose members are
 * `event` ("media"), `streamSid`, `media` and optionally `sequenceNumber`, in any order; `media` an
 * object of `payload` and optionally `track`, `chunk` and `timestamp`; every value a string of
 * printable ASCII without escapes. That is the shape Twilio sends. Anything else returns false and
 * must go through {@link parseTwilioMessage}.
 *
 * The payload's characters are not checked here: decode it with {@link mulawDecodeBase64}, and if
 * that fails, give the message to parseTwilioMessage instead (it decides between an escaped but
 * valid payload and invalid_payload). Recognised and decoded, a message is exactly what
 * parseTwilioMessage would have returned: taking this path changes nothing but the cost.
 */
export function scanMediaMessage(raw: Uint8Array, out: MediaFields): boolean {
  const last = raw.length - 1;
  if (raw[0] !== OPEN || raw[last] !== CLOSE) return false;
  out.trackStart = -1;
  out.trackEnd = -1;
  let seen = 0;
  let at = 1;
  for (;;) {
    const keyEnd = plainString(raw, at);
    if (keyEnd < 0 || raw[keyEnd + 1] !== COLON) return false;
    const k = at + 1;
    const keyLength = keyEnd - k;
    const valueStart = keyEnd + 2;
    let valueEnd: number;
    let bit: number;
    if (keyLength === 5 && raw[k] === 0x6d /* m */ && bytesEqual(raw, k, keyEnd, K_MEDIA)) {
      bit = 1;
      valueEnd = scanMediaObject(raw, valueStart, out);
    } else {
      valueEnd = plainString(raw, valueStart);
      if (valueEnd < 0) return false;
      if (keyLength === 5 && bytesEqual(raw, k, keyEnd, K_EVENT)) {
        if (!bytesEqual(raw, valueStart + 1, valueEnd, V_MEDIA)) return false;
        bit = 2;
      } else if (keyLength === 9 && bytesEqual(raw, k, keyEnd, K_STREAM_SID)) {
        bit = 4;
        out.streamSidStart = valueStart + 1;
        out.streamSidEnd = valueEnd;
      } else if (keyLength === 14 && bytesEqual(raw, k, keyEnd, K_SEQUENCE)) bit = 8;
      else return false;
    }
    if (valueEnd < 0 || (seen & bit) !== 0) return false;
    seen |= bit;
    at = valueEnd + 1;
    if (raw[at] === COMMA) {
      at++;
      continue;
    }
    return at === last && (seen & 7) === 7;
  }
}

/**
 * An outbound media message in two halves around its payload, for building it straight into a
 * byte buffer: prefix + payload + suffix is exactly {@link encodeMedia}(streamSid, payload).
 */
export function mediaMessageParts(streamSid: string): { readonly prefix: Buffer; readonly suffix: Buffer } {
  const [prefix, suffix] = encodeMedia(streamSid, '\u0000').split('\u0000') as [string, string];
  return { prefix: Buffer.from(prefix, 'utf8'), suffix: Buffer.from(suffix, 'utf8') };
}
