/**
 * The worker role's processors implement the job-handler contract shared with the hub (whose
 * `realtime` consumer lives on the server side); the contract, the registry that refuses a
 * missing or doubled handler, and the pool live in src/platform/queues/ so both roles use them.
 */
export { buildHandlerRegistry, HandlerRegistryError, type HandlerRegistry, type JobContext, type JobHandler } from '../platform/queues/registry.js';
