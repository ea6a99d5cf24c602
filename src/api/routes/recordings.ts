/**
 * `/v1/calls/:id/recording` — download (with single-range support for audio players) and delete
 * a call's stereo WAV recording. Tenant-scoped like `/v1/calls/:id`: another tenant's call is a
 * plain 404. The file path is built from the stored call's tenant and call ids, never from the
 * request, so no request can name a file.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { isSafeRecordingId, recordingFilePath } from '../../recording/stereo-recorder.js';
import { LIVE_CALL_STATUSES, type CallRow, type Store } from '../../store/store.js';
import { ApiError } from '../errors.js';
import { defineRoute, tenantScopeOf } from '../route.js';

export interface RecordingRoutesDeps {
  readonly store: Pick<Store, 'calls'>;
  /** PARLEY_DATA_DIR: recordings live under `<dataDir>/recordings/`. */
  readonly dataDir: string;
}

const params = z.object({ id: z.string().min(1).max(128) });

/** A byte range [start, end] (inclusive), or why the Range header cannot be served. */
export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Interprets a `Range` header against a file of `size` bytes. Only one `bytes=` range is served;
 * anything else (several ranges, other units, malformed) is ignored and the whole file is sent,
 * which RFC 9110 §14.2 allows.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    // Suffix range: the last n bytes.
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

function notFound(id: string, why: string): ApiError {
  return new ApiError('not_found', { message: `Call ${id} ${why}` });
}

/** The call and its live recording's file path, or the 404 to answer. */
async function findRecording(deps: RecordingRoutesDeps, id: string, scopeTenantId: string | undefined): Promise<{ call: CallRow; path: string }> {
  // Another tenant's call is indistinguishable from a missing one.
  const call = await deps.store.calls.get(id, scopeTenantId === undefined ? {} : { tenantId: scopeTenantId });
  if (call === undefined) throw notFound(id, 'not found');
  const rec = call.recording;
  if (rec === null) throw notFound(id, 'has no recording (recording is off for its agent, or the call is still starting)');
  if (rec.deletedAtMs !== undefined) throw notFound(id, `has no recording: it was deleted at ${new Date(rec.deletedAtMs).toISOString()}`);
  if (!isSafeRecordingId(call.tenantId) || !isSafeRecordingId(call.id)) throw notFound(id, 'has no recording');
  return { call, path: recordingFilePath(deps.dataDir, call.tenantId, call.id) };
}

/**
 * Sends `payload` and waits until the response has ended, then tells Fastify the reply is fully
 * handled: defineRoute's handlers return values, but a streamed or 206/416 reply is sent here.
 */
async function sendAndFinish(reply: FastifyReply, payload?: unknown): Promise<void> {
  reply.send(payload);
  try {
    await reply;
  } catch {
    // The stream failed mid-response; Fastify has logged it and closed the connection.
  }
  reply.hijack();
}

/**
 * Registers `GET` and `DELETE /calls/:id/recording` on `app` — inside the `/v1` scope, behind the
 * auth hook.
 */
export function registerRecordingRoutes(app: FastifyInstance, deps: RecordingRoutesDeps): void {
  defineRoute(
    app,
    {
      method: 'GET',
      path: '/calls/:id/recording',
      operationId: 'getCallRecording',
      summary: "Download a call's recording",
      description:
        'Stereo 16-bit PCM WAV at the carrier rate: caller on the left channel, agent (as the caller heard it) on the right. ' +
        'Supports a single `Range: bytes=` request (206) for players that seek.',
      tags: ['Calls'],
      access: 'tenant',
      params,
      responses: {
        200: { description: 'The WAV file', contentType: 'audio/wav' },
        206: { description: 'The requested byte range of the WAV file', contentType: 'audio/wav' },
        404: { description: 'No such call, or it has no (live) recording' },
        416: { description: 'The range starts beyond the end of the file' },
      },
    },
    async (ctx) => {
      const { call, path } = await findRecording(deps, ctx.params.id, tenantScopeOf(ctx));
      let fh: FileHandle;
      try {
        fh = await open(path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(ctx.params.id, 'has no recording: its file is missing');
        throw err;
      }
      const reply = ctx.reply;
      let size: number;
      try {
        size = (await fh.stat()).size;
      } catch (err) {
        await fh.close();
        throw err;
      }
      const range = parseRange(ctx.request.headers.range, size);
      reply.header('accept-ranges', 'bytes').header('cache-control', 'private, no-store');
      if (range.kind === 'unsatisfiable') {
        await fh.close();
        reply.code(416).header('content-range', `bytes */${size}`);
        return sendAndFinish(reply);
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : size - 1;
      reply
        .code(range.kind === 'partial' ? 206 : 200)
        .type('audio/wav')
        .header('content-length', String(end - start + 1))
        .header('content-disposition', `attachment; filename="${call.id}.wav"`);
      if (range.kind === 'partial') reply.header('content-range', `bytes ${start}-${end}/${size}`);
      if (size === 0) {
        await fh.close();
        return sendAndFinish(reply, Buffer.alloc(0));
      }
      // The stream owns the handle from here and closes it when done or destroyed.
      return sendAndFinish(reply, fh.createReadStream({ start, end }));
    },
  );

  defineRoute(
    app,
    {
      method: 'DELETE',
      path: '/calls/:id/recording',
      operationId: 'deleteCallRecording',
      summary: "Delete a call's recording",
      description: 'Removes the file and marks the recording deleted on the call. Not allowed while the call is in progress.',
      tags: ['Calls'],
      access: 'tenant',
      params,
      responses: {
        204: { description: 'Deleted' },
        404: { description: 'No such call, or it has no (live) recording' },
        409: { description: 'The call is still in progress' },
      },
    },
    async (ctx) => {
      const { call, path } = await findRecording(deps, ctx.params.id, tenantScopeOf(ctx));
      if ((LIVE_CALL_STATUSES as readonly string[]).includes(call.status)) {
        throw new ApiError('conflict', { message: `Call ${ctx.params.id} is still in progress; delete its recording after it ends` });
      }
      try {
        await unlink(path);
      } catch (err) {
        // Already gone: still mark it deleted so the API stops offering it.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await deps.store.calls.update(call.id, { recording: { ...call.recording!, deletedAtMs: Date.now() } });
      return undefined;
    },
  );
}
