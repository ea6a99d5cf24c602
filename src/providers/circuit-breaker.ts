/**
 * Process-wide health of each configured provider, so a provider that keeps failing is skipped by
 * every call for a cool-down instead of costing each caller a timeout. After the cool-down one
 * request probes it (half-open); success closes the breaker, failure opens it again.
 */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker skips the provider before letting one probe through. */
  coolDownMs: number;
}

export const circuitBreakerDefaults = { failureThreshold: 2, coolDownMs: 30_000 } as const satisfies CircuitBreakerOptions;

interface BreakerState {
  consecutiveFailures: number;
  openedAtMs?: number;
  probing: boolean;
}

export class CircuitBreakers {
  private readonly states = new Map<string, BreakerState>();
  private readonly o: CircuitBreakerOptions;

  constructor(
    options: Partial<CircuitBreakerOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.o = { ...circuitBreakerDefaults, ...options };
  }

  /** Whether a request may go to `key` now; claims the probe slot of a half-open breaker. */
  allow(key: string): boolean {
    const s = this.states.get(key);
    if (!s || s.openedAtMs === undefined) return true;
    if (this.now() - s.openedAtMs < this.o.coolDownMs || s.probing) return false;
    s.probing = true;
    return true;
  }

  recordSuccess(key: string): void {
    this.states.delete(key);
  }

  recordFailure(key: string): void {
    const s = this.states.get(key) ?? { consecutiveFailures: 0, probing: false };
    s.consecutiveFailures++;
    s.probing = false;
    if (s.consecutiveFailures >= this.o.failureThreshold || s.openedAtMs !== undefined) s.openedAtMs = this.now();
    this.states.set(key, s);
  }

  isOpen(key: string): boolean {
    const s = this.states.get(key);
    return s?.openedAtMs !== undefined && this.now() - s.openedAtMs < this.o.coolDownMs;
  }
}
