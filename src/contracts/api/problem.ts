import { z } from 'zod';

/** RFC 9457 problem details: the body of every 4xx and 5xx answer. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    /** Stable machine-readable id of the error, e.g. `validation_failed`, `token_expired`. */
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({
    id: 'Problem',
    example: {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'validation_failed',
      detail: 'The request body is invalid',
      errors: [{ path: 'events.2.type', message: 'must match ^[a-z][a-z0-9_.:-]{0,63}$' }],
    },
  });

export type Problem = z.infer<typeof problemSchema>;
