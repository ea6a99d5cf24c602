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
