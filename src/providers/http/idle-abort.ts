/**
 * Abort reasons, made once: `abort()` without a reason builds a DOMException, stack trace included, and
 * dispose() aborts at the end of every request. Still AbortErrors, as fetch and body readers would see
 * from a plain abort(); the users here tell aborts apart by `caller.aborted` / `timedOut`, never the reason.
 */
const CALLER_ABORTED = new DOMException('the caller aborted', 'AbortError');
const EXCHANGE_ENDED = new DOMException('exchange ended', 'AbortError');
const IDLE_TIMEOUT = new DOMException('no data within the idle deadline', 'AbortError');

/**
 * An AbortSignal for one streamed HTTP exchange: it follows the caller's signal, and fires by
 * itself when the server stays silent for `idleMs` (re-armed on every piece of data), so an
 * accepted-but-stalled stream cannot hang a call.
 */
export class IdleAbort {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private readonly onCallerAbort = (): void => this.controller.abort(CALLER_ABORTED);

  constructor(
    private readonly caller: AbortSignal,
    private readonly idleMs: number,
  ) {
    caller.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  /** Follows the caller and the idle deadline; pass to fetch and body readers. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the idle deadline (not the caller) ended the exchange. */
  get timedOut(): boolean {
    return this.expired;
  }

  /** Starts (or restarts) the idle deadline: call before each wait for data. */
  arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(IDLE_TIMEOUT);
    }, this.idleMs);
  }

  /** Stops the idle deadline without ending the exchange. */
  pause(): void {
    clearTimeout(this.timer);
  }

  /** Ends the exchange (releases the connection) and detaches from the caller. */
  dispose(abort = true): void {
    clearTimeout(this.timer);
    this.caller.removeEventListener('abort', this.onCallerAbort);
    if (abort) this.controller.abort(EXCHANGE_ENDED);
  }
}
