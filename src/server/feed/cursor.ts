import { z } from 'zod';
import { httpErrors } from '../http/errors.js';

/** Where a page of a stored feed ends: the version it reads and the last position it showed. */
export interface FeedCursor {
  version: number;
  position: number;
}

const payloadSchema = z.object({ v: z.int().min(1), p: z.int().min(0) }).strict();

/**
 * Opaque to clients (base64url JSON) so the paging scheme may change; it carries the version
 * because a cursor keeps reading the computation its first page came from.
 */
export const encodeFeedCursor = (cursor: FeedCursor): string => Buffer.from(JSON.stringify({ v: cursor.version, p: cursor.position })).toString('base64url');

/** The cursor, or a 400 naming `cursor` when it is not one this API handed out. */
export function decodeFeedCursor(text: string): FeedCursor {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    payload = undefined;
  }
  const parsed = payloadSchema.safeParse(payload);
  if (!parsed.success) throw httpErrors.validation([{ path: 'cursor', message: 'must be a nextCursor from a previous page' }]);
  return { version: parsed.data.v, position: parsed.data.p };
}
