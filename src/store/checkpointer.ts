/**
 * WAL checkpoints on a worker thread instead of the event loop.
 *
 * SQLite copies the write-ahead log back into the database file (a checkpoint) when a commit leaves
 * more than 1 000 pages in it, on the connection that committed: under call load that was a 5–30 ms
 * stall of the event loop every few seconds (page copies plus an fsync), long enough to make outbound
 * audio late. With this, the serving connection never checkpoints (`wal_autocheckpoint = 0`) and a
 * worker thread with its own connection runs a PASSIVE checkpoint (it never waits for, or blocks,
 * readers and the writer) every `intervalMs`. If the worker fails, the serving connection takes
 * checkpoints back, so the log cannot grow without bound.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/** SQLite's default: checkpoint once the WAL holds this many pages (used again if the worker fails). */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
export const CHECKPOINT_INTERVAL_MS = 1000;

/** The worker: plain CommonJS (eval'd), so it runs the same from dist/ and under tsx. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
let stopped = false;
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ kind: 'checkpoint', walPages: r.log, checkpointedPages: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ kind: 'error', message: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop' || stopped) return;
  stopped = true;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointReport {
  /** Pages in the WAL and how many of them are in the database file, after the checkpoint. */
  readonly walPages: number;
  readonly checkpointedPages: number;
}

export interface Checkpointer {
  /**
   * Stops the worker; resolves once its connection is closed, so that the serving connection, closed
   * after, is the last one and checkpoints and removes the log as usual.
   */
  stop(): Promise<void>;
}

/**
 * Moves `sqlite`'s checkpoints to a worker thread. `onError` hears a worker failure (after which
 * the serving connection checkpoints again); `onCheckpoint` hears each checkpoint (tests, metrics).
 */
export function startCheckpointer(
  sqlite: BetterSqlite3.Database,
  o: {
    intervalMs?: number;
    onError?: (message: string) => void;
    onCheckpoint?: (r: CheckpointReport) => void;
    /** Replaces the worker's code (tests: a worker that fails). */
    workerSource?: string;
  } = {},
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  sqlite.pragma('wal_autocheckpoint = 0');
  let stopped = false;
  const fallBack = (message: string): void => {
    if (stopped) return;
    stopped = true;
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    void worker.terminate();
    o.onError?.(message);
  };
  const worker = new Worker(o.workerSource ?? WORKER_SOURCE, { eval: true, workerData: { driver, file: sqlite.name, intervalMs: o.intervalMs ?? CHECKPOINT_INTERVAL_MS } });
  worker.unref();
  worker.on('message', (m: { kind: 'checkpoint'; walPages: number; checkpointedPages: number } | { kind: 'error'; message: string }) => {
    if (m.kind === 'error') fallBack(`WAL checkpoint failed on the worker: ${m.message}`);
    else o.onCheckpoint?.({ walPages: m.walPages, checkpointedPages: m.checkpointedPages });
  });
  worker.on('error', (err) => fallBack(`WAL checkpoint worker failed: ${err.message}`));
  const exited = new Promise<void>((resolve) =>
    worker.on('exit', (code) => {
      if (!stopped) fallBack(`WAL checkpoint worker exited (code ${code})`);
      resolve();
    }),
  );
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        worker.ref(); // whoever awaits the stop keeps the process up until the worker is gone
        worker.postMessage('stop');
      }
      return exited;
    },
  };
}
