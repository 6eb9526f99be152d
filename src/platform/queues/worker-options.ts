/**
 * A killed worker's jobs are redone after its lock lapses and the next stalled-job check sees
 * it: at most LOCK + CHECK, about 12 s instead of BullMQ's 30 s + 30 s. A live worker renews its
 * locks every LOCK/2, so only an event loop blocked for 8 s would be taken for dead, and the
 * worst that does is run a job twice, which every handler tolerates (the engine by its markers).
 */
export const stalledJobOptions = { lockDuration: 8_000, stalledInterval: 4_000, maxStalledCount: 2 } as const;
