/**
 * Deletes call recordings older than their tenant's `recordings.retentionDays`, judged by the
 * call's end (its start when it has no end), and marks them deleted on the call
 * (`recording.deletedAtMs`). Runs once at start and then every interval (hourly by default);
 * one sweep at a time. A file that cannot be removed is logged and retried next sweep; a file
 * already gone is simply marked deleted.
 */
import { unlink } from 'node:fs/promises';
import type { RecordingsRepo } from '../store/recordings-repo.js';
import { isSafeRecordingId, recordingFilePath } from './stereo-recorder.js';

export const DEFAULT_RETENTION_INTERVAL_MS = 60 * 60 * 1000;
/** Retention for recordings of a tenant that no longer exists (the schema's default). */
export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH = 200;

export interface RetentionLog {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface RecordingRetentionDeps {
  readonly recordings: Pick<RecordingsRepo, 'tenantsWithLiveRecordings' | 'listLiveOlderThan' | 'markDeleted'>;
  /** The tenant's configuration (TenantDirectory.get fits); undefined for a removed tenant. */
  getTenant(id: string): { readonly recordings: { readonly retentionDays: number } } | undefined;
  readonly dataDir: string;
  /** Time between sweeps (default hourly). */
  readonly intervalMs?: number;
  /** Epoch ms (default Date.now). */
  readonly now?: () => number;
  readonly log?: RetentionLog;
}

export interface RetentionSweep {
  /** Recordings removed (or found already gone) and marked deleted. */
  deleted: number;
  /** Recordings whose file could not be removed; retried next sweep. */
  failed: number;
}

export class RecordingRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionSweep> | undefined;

  constructor(private readonly d: RecordingRetentionDeps) {}

  /** Sweeps now, then every interval. Idempotent. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.d.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
    this.timer.unref();
    void this.sweep();
  }

  /** Stops the timer and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs one sweep (or joins the one in progress). Never rejects: failures are logged. */
  sweep(): Promise<RetentionSweep> {
    this.running ??= this.run()
      .catch((err: unknown) => {
        this.d.log?.warn({ err: (err as Error).message }, 'recording retention sweep failed');
        return { deleted: 0, failed: 0 };
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async run(): Promise<RetentionSweep> {
    const nowMs = (this.d.now ?? Date.now)();
    const result: RetentionSweep = { deleted: 0, failed: 0 };
    for (const tenantId of await this.d.recordings.tenantsWithLiveRecordings()) {
      const days = this.retentionDays(tenantId);
      const beforeMs = nowMs - days * DAY_MS;
      for (;;) {
        const batch = await this.d.recordings.listLiveOlderThan(tenantId, beforeMs, BATCH);
        let progressed = 0;
        for (const r of batch) {
          if (await this.remove(r.tenantId, r.callId)) {
            if (await this.d.recordings.markDeleted(r.callId, nowMs)) result.deleted++;
            progressed++;
          } else {
            result.failed++;
          }
        }
        // A short page is the last; a page where nothing could be removed would come back unchanged.
        if (batch.length < BATCH || progressed === 0) break;
      }
    }
    if (result.deleted > 0 || result.failed > 0) this.d.log?.info({ ...result }, 'recording retention sweep');
    return result;
  }

  private retentionDays(tenantId: string): number {
    let days: unknown;
    try {
      days = this.d.getTenant(tenantId)?.recordings.retentionDays;
    } catch {
      days = undefined;
    }
    return typeof days === 'number' && Number.isFinite(days) && days >= 1 ? days : DEFAULT_RETENTION_DAYS;
  }

  /** Removes the file; true when it is gone (including already gone). */
  private async remove(tenantId: string, callId: string): Promise<boolean> {
    if (!isSafeRecordingId(tenantId) || !isSafeRecordingId(callId)) {
      this.d.log?.warn({ tenantId, callId }, 'recording retention: ids are not safe path segments; skipped');
      return false;
    }
    try {
      await unlink(recordingFilePath(this.d.dataDir, tenantId, callId));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      this.d.log?.warn({ tenantId, callId, err: (err as Error).message }, 'recording retention: could not delete the file');
      return false;
    }
  }
}
