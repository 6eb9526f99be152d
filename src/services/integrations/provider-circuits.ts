import { circuitBreaker, CircuitState as BreakerState, ConsecutiveBreaker, ExponentialBackoff, handleType, retry, wrap, type IPolicy } from 'cockatiel';
import type { CircuitState, ConnectionProvider } from '../../contracts/api/connections.js';
import { ProviderUnavailableError } from './providers/sync-types.js';

export interface CircuitOptions {
  /** Consecutive unavailable answers (5xx, timeouts) that open a provider's circuit. */
  failures: number;
  /** How long an open circuit fails calls fast before letting one through (half-open). */
  halfOpenAfterMs: number;
  /** Tries of one call while the provider is unavailable, the first included. */
  attempts: number;
  /** First delay between those tries; later ones grow exponentially, with decorrelated jitter, up to `maxDelayMs`. */
  initialDelayMs: number;
  maxDelayMs: number;
}

const stateNames: Record<BreakerState, CircuitState> = {
  [BreakerState.Closed]: 'closed',
  [BreakerState.Open]: 'open',
  [BreakerState.HalfOpen]: 'half_open',
  [BreakerState.Isolated]: 'isolated',
};

/**
 * One circuit breaker per provider (cockatiel), in this process: after `failures` unavailable
 * answers in a row every call to that provider fails fast (BrokenCircuitError) without reaching
 * it, until `halfOpenAfterMs` lets one trial call through. Inside the breaker, each call is retried
 * on 5xx/timeouts with exponential backoff and jitter; every retry counts toward opening it.
 * Throttling (429) is not a failure here: the queue's rate limit handles it.
 */
export class ProviderCircuits {
  private readonly policies = new Map<ConnectionProvider, { policy: IPolicy; state: () => CircuitState }>();

  constructor(
    private readonly options: CircuitOptions,
    private readonly onStateChange: (provider: ConnectionProvider, state: CircuitState) => void,
  ) {}

  run<T>(provider: ConnectionProvider, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.policyOf(provider).policy.execute(({ signal }) => call(signal));
  }

  state(provider: ConnectionProvider): CircuitState {
    return this.policies.get(provider)?.state() ?? 'closed';
  }

  private policyOf(provider: ConnectionProvider) {
    const existing = this.policies.get(provider);
    if (existing) return existing;
    const unavailable = handleType(ProviderUnavailableError);
    const breaker = circuitBreaker(unavailable, { halfOpenAfter: this.options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(this.options.failures) });
    breaker.onStateChange((state) => this.onStateChange(provider, stateNames[state]));
    const retries = retry(unavailable, {
      maxAttempts: Math.max(this.options.attempts - 1, 0),
      backoff: new ExponentialBackoff({ initialDelay: this.options.initialDelayMs, maxDelay: this.options.maxDelayMs }),
    });
    const created = { policy: wrap(retries, breaker), state: () => stateNames[breaker.state] };
    this.policies.set(provider, created);
    return created;
  }
}
