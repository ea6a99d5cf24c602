/**
 * An AbortSignal for one streamed HTTP exchange: it follows the caller's signal, and fires by
 * itself when the server stays silent for `idleMs` (re-armed on every piece of data), so an
 * accepted-but-stalled stream cannot hang a call.
 */
export class IdleAbort {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private expired = false;
  private readonly onCallerAbort = (): void => this.controller.abort();

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
      this.controller.abort();
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
    if (abort) this.controller.abort();
  }
}
