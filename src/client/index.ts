export { createPulseClient, PulseClient, PulseClientError, type AcceptedEvent, type PulseClientEvents, type PulseClientOptions } from './pulse-client.js';
export { SeqTracker } from './seq-tracker.js';
export type { DashboardMetrics, SyncResult } from '../shared/socket/contracts.js';
export type { StreamMessage } from '../shared/api/streams.js';
export type { UserUpdate, UserUpdateMessage, UserUpdateName } from '../shared/socket/user-updates.js';
