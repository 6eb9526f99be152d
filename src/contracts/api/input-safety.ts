/**
 * Checks that untrusted input (a request body, a query, a socket payload) is safe to hand to zod,
 * to JSON.stringify and to Postgres: bounded nesting, and no string that Postgres or an
 * idempotency key would mangle. Pure and iterative, so a 100,000-deep payload cannot overflow the
 * stack here the way a recursive walk (or a zod refinement calling JSON.stringify) would.
 */

/** How deep any request body or socket payload may nest (objects and arrays, the root counting as 1). */
export const MAX_INPUT_DEPTH = 32;

export const INPUT_MESSAGES = {
  nul: 'must not contain the NUL character (U+0000)',
  illFormed: 'must be well-formed Unicode (no lone UTF-16 surrogate)',
  keyNul: 'has a key that contains the NUL character (U+0000)',
  keyIllFormed: 'has a key that is not well-formed Unicode (a lone UTF-16 surrogate)',
  tooDeep: (maxDepth: number) => `is nested more than ${maxDepth} levels deep`,
} as const;

export type UnsafeReason = 'too_deep' | 'nul' | 'ill_formed';

export interface UnsafeInput {
  /** Dot-joined path to the offending value (`events.3.idempotencyKey`); `''` for the value itself. */
  path: string;
  /** The same path as segments, for zod issues (`['events', 3, 'idempotencyKey']`). */
  segments: (string | number)[];
  reason: UnsafeReason;
  message: string;
}

export interface InputSafetyOptions {
  /** Default MAX_INPUT_DEPTH. */
  maxDepth?: number;
  /** Check strings and keys (default true); false checks nesting only. */
  strings?: boolean;
}

/**
 * Why a string cannot be stored or used as a key, or undefined when it can. Postgres refuses
 * U+0000 in text and jsonb; a lone surrogate is ill-formed UTF-16 that becomes U+FFFD on the way
 * to UTF-8, so `\ud800` and `\udfff` would silently turn into the same stored value.
 */
export function unsafeStringReason(value: string): string | undefined {
  if (value.includes('\u0000')) return INPUT_MESSAGES.nul;
  if (!value.isWellFormed()) return INPUT_MESSAGES.illFormed;
  return undefined;
}

/** The predicate form of unsafeStringReason. */
export const isStorableText = (value: string): boolean => unsafeStringReason(value) === undefined;

/**
 * Only plain objects and arrays are walked: a Buffer or typed array (a binary socket attachment)
 * is a leaf, never thousands of indexed children.
 */
function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A value still to visit; its path is kept as a link to its parent, so a deep walk copies nothing. */
interface Pending {
  value: unknown;
  segment: string | number;
  parent: Pending | undefined;
  depth: number;
}

function found(at: Pending, reason: UnsafeReason, message: string): UnsafeInput {
  const segments: (string | number)[] = [];
  for (let node: Pending | undefined = at; node?.parent !== undefined; node = node.parent) segments.push(node.segment);
  segments.reverse();
  return { path: segments.join('.'), segments, reason, message };
}

/** What is wrong with a string value, or an object key (named by its parent), if anything. */
function stringProblem(at: Pending, text: string, asKey: boolean): UnsafeInput | undefined {
  if (text.includes('\u0000')) return found(at, 'nul', asKey ? INPUT_MESSAGES.keyNul : INPUT_MESSAGES.nul);
  if (!text.isWellFormed()) return found(at, 'ill_formed', asKey ? INPUT_MESSAGES.keyIllFormed : INPUT_MESSAGES.illFormed);
  return undefined;
}

/**
 * The first unsafe spot in `value`, or undefined when it is all safe: nesting deeper than
 * `maxDepth`, or a string value or object key containing NUL or a lone surrogate. Walks with an
 * explicit stack (no recursion) in document order. Too deep nesting wins over a bad string
 * anywhere, since it is what crashes recursive code: a caller that lets zod name a bad string
 * (`reason` is not `too_deep`) knows the value is still safe to hand to zod.
 */
export function findUnsafeInput(value: unknown, options: InputSafetyOptions = {}): UnsafeInput | undefined {
  const maxDepth = options.maxDepth ?? MAX_INPUT_DEPTH;
  const checkStrings = options.strings ?? true;
  let firstStringProblem: UnsafeInput | undefined;
  const stack: Pending[] = [{ value, segment: '', parent: undefined, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const current = next.value;
    if (typeof current === 'string') {
      if (checkStrings) firstStringProblem ??= stringProblem(next, current, false);
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    const depth = next.depth + 1;
    if (Array.isArray(current)) {
      if (depth > maxDepth) return found(next, 'too_deep', INPUT_MESSAGES.tooDeep(maxDepth));
      // Pushed in reverse so they pop in document order.
      for (let index = current.length - 1; index >= 0; index--) stack.push({ value: current[index], segment: index, parent: next, depth });
      continue;
    }
    if (!isPlainObject(current)) continue;
    if (depth > maxDepth) return found(next, 'too_deep', INPUT_MESSAGES.tooDeep(maxDepth));
    const keys = Object.keys(current);
    // Keys are checked before any value under them, and named by their parent: an ill-formed key
    // would make an ill-formed path.
    if (checkStrings) for (const key of keys) firstStringProblem ??= stringProblem(next, key, true);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index] as string;
      stack.push({ value: current[key], segment: key, parent: next, depth });
    }
  }
  return firstStringProblem;
}

/** True when `findUnsafeInput` finds nothing: the predicate form, for zod refinements. */
export const isSafeInput = (value: unknown, options?: InputSafetyOptions): boolean => findUnsafeInput(value, options) === undefined;
