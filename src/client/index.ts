export { createPulseClient, PulseClient, PulseClientError, type AcceptedEvent, type PulseClientEvents, type PulseClientOptions } from './pulse-client.js';
export { SeqTracker } from './seq-tracker.js';
export type { DashboardMetrics, SyncResult } from '../contracts/socket/contracts.js';
export type { StreamMessage } from '../contracts/api/streams.js';
export type { UserUpdate, UserUpdateMessage, UserUpdateName } from '../contracts/socket/user-updates.js';
