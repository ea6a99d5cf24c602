/**
 * The calls whose voice session runs in this process, by Parley call id, so the API can hang one
 * up. The call factory registers each session when its media stream starts and unregisters it
 * when the session ends. A call live in another process is not here (see docs/calls.md).
 */

export interface LiveCall {
  /** Ends the call from Parley's side (stops the agent, closes the stream, hangs up the carrier leg). */
  hangup(reason: string): void;
}

export class LiveCalls {
  private readonly calls = new Map<string, LiveCall>();

  /** Registers a live call; returns the function that unregisters it (only this registration). */
  register(callId: string, call: LiveCall): () => void {
    this.calls.set(callId, call);
    return () => {
      if (this.calls.get(callId) === call) this.calls.delete(callId);
    };
  }

  has(callId: string): boolean {
    return this.calls.has(callId);
  }

  /** Hangs up a live call; false when it is not live in this process. */
  hangup(callId: string, reason: string): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    call.hangup(reason);
    return true;
  }

  get size(): number {
    return this.calls.size;
  }
}
