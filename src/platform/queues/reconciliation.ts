/** Where the workers' reconcilers count re-enqueued events, for the hub's /metrics. */
export const requeuedCounterKey = (redisPrefix: string) => `${redisPrefix}:metrics:outbox-requeued`;
