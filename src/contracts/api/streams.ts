import { z } from 'zod';
import { storableJsonObject } from './common.js';

export const STREAM_NAME = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export const MAX_STREAM_MESSAGE_BYTES = 8 * 1024;

export const streamMessageRequestSchema = z
  .object({
    data: storableJsonObject(MAX_STREAM_MESSAGE_BYTES),
  })
  .strict()
  .meta({ id: 'StreamMessageRequest', example: { data: { headline: 'Double points this weekend' } } });

export const streamMessageResponseSchema = z
  .object({ stream: z.string(), at: z.string() })
  .meta({ id: 'StreamMessageAccepted', example: { stream: 'stream:news', at: '2026-11-22T08:30:00.000Z' } });

/** What subscribers of `stream:<name>` receive. Live only: a stream message is not stored. */
export interface StreamMessage {
  stream: string;
  data: Record<string, unknown>;
  /** Server time of publication, for latency measurement and ordering. */
  at: string;
}
