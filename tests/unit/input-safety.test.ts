import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventBatchSchema, eventInputSchema } from '../../src/contracts/api/events.js';
import { findUnsafeInput, INPUT_MESSAGES, MAX_INPUT_DEPTH, unsafeStringReason } from '../../src/contracts/api/input-safety.js';
import { storableString } from '../../src/contracts/api/common.js';

const SEED = 20261202;

/** `depth` nested single-key objects around a string: `{d: {d: ... 'leaf'}}`. */
function nestedObject(depth: number, leaf: unknown = 'leaf'): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = { d: value };
  return value;
}

function nestedArray(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

type Found = { path: string; message: string } | undefined;

/**
 * The reference the walker is checked against: the obvious recursive definitions, in document
 * order, keys of an object before anything under them; too deep nesting anywhere wins over a bad
 * string. Only run on shallow values.
 */
function referenceDepth(value: unknown, maxDepth: number, segments: (string | number)[] = [], depth = 0): Found {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth + 1 > maxDepth) return { path: segments.join('.'), message: INPUT_MESSAGES.tooDeep(maxDepth) };
  for (const [key, item] of Object.entries(value)) {
    const found = referenceDepth(item, maxDepth, [...segments, Array.isArray(value) ? Number(key) : key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

function referenceStrings(value: unknown, segments: (string | number)[] = []): Found {
  if (typeof value === 'string') {
    const reason = unsafeStringReason(value);
    return reason ? { path: segments.join('.'), message: reason } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      if (key.includes('\u0000')) return { path: segments.join('.'), message: INPUT_MESSAGES.keyNul };
      if (!key.isWellFormed()) return { path: segments.join('.'), message: INPUT_MESSAGES.keyIllFormed };
    }
  }
  for (const [key, item] of Object.entries(value)) {
    const found = referenceStrings(item, [...segments, Array.isArray(value) ? Number(key) : key]);
    if (found) return found;
  }
  return undefined;
}

const reference = (value: unknown, maxDepth: number): Found => referenceDepth(value, maxDepth) ?? referenceStrings(value);

/** Strings mixing ordinary text with the characters the walker must catch. */
const nastyUnit = fc.constantFrom('a', 'é', '😀', '\u0000', '\ud800', '\udfff', '\ud83d', '\ude00', '.');
const nastyString = fc.string({ unit: nastyUnit, maxLength: 4 });
const cleanString = fc.string({ unit: fc.constantFrom('a', 'é', '😀', '.', ' '), maxLength: 4 });

const jsonTree = (text: fc.Arbitrary<string>) =>
  fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, text, fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  })).value;

describe('findUnsafeInput', () => {
  it('accepts ordinary JSON and names nothing', () => {
    expect(findUnsafeInput({ events: [{ type: 'a.b', userId: 'ü-42 😀', data: { n: 1, list: [true, null, 'x'] } }] })).toBeUndefined();
    expect(findUnsafeInput('plain')).toBeUndefined();
    expect(findUnsafeInput(undefined)).toBeUndefined();
    expect(findUnsafeInput(42)).toBeUndefined();
  });

  it('names the exact path of a lone surrogate or a NUL, in values and keys', () => {
    const batch = { events: [{ type: 'a' }, { type: 'a' }, { type: 'a' }, { type: 'a', idempotencyKey: '\ud800' }] };
    expect(findUnsafeInput(batch)).toEqual({ path: 'events.3.idempotencyKey', segments: ['events', 3, 'idempotencyKey'], reason: 'ill_formed', message: INPUT_MESSAGES.illFormed });
    expect(findUnsafeInput({ name: 'a\u0000b' })?.path).toBe('name');
    expect(findUnsafeInput({ name: 'a\u0000b' })?.message).toBe(INPUT_MESSAGES.nul);
    expect(findUnsafeInput({ data: { '\udfff': 1 } })).toMatchObject({ path: 'data', message: INPUT_MESSAGES.keyIllFormed });
    expect(findUnsafeInput({ data: { 'a\u0000': 1 } })).toMatchObject({ path: 'data', reason: 'nul', message: INPUT_MESSAGES.keyNul });
    // A whole surrogate pair is one well-formed character.
    expect(findUnsafeInput({ emoji: '\ud83d\ude00' })).toBeUndefined();
    expect(findUnsafeInput('\ud800')).toEqual({ path: '', segments: [], reason: 'ill_formed', message: INPUT_MESSAGES.illFormed });
  });

  it(`allows exactly ${MAX_INPUT_DEPTH} levels of nesting and refuses one more`, () => {
    expect(findUnsafeInput(nestedObject(MAX_INPUT_DEPTH))).toBeUndefined();
    expect(findUnsafeInput(nestedArray(MAX_INPUT_DEPTH))).toBeUndefined();
    const tooDeep = findUnsafeInput(nestedObject(MAX_INPUT_DEPTH + 1));
    expect(tooDeep?.message).toBe(INPUT_MESSAGES.tooDeep(MAX_INPUT_DEPTH));
    expect(tooDeep?.segments).toHaveLength(MAX_INPUT_DEPTH);
    expect(findUnsafeInput(nestedArray(3), { maxDepth: 2 })).toMatchObject({ path: '0.0', message: INPUT_MESSAGES.tooDeep(2) });
  });

  it('reports too deep nesting before a bad string met earlier, and checks nesting only with strings: false', () => {
    const value = { first: '\u0000', second: nestedObject(5) };
    expect(findUnsafeInput(value, { maxDepth: 3 })).toMatchObject({ path: 'second.d.d', reason: 'too_deep' });
    expect(findUnsafeInput(value)).toMatchObject({ path: 'first', reason: 'nul' });
    expect(findUnsafeInput(value, { strings: false })).toBeUndefined();
  });

  it('walks 200,000 levels without recursion (no stack overflow), for objects and arrays', () => {
    expect(findUnsafeInput(nestedObject(200_000))?.message).toBe(INPUT_MESSAGES.tooDeep(MAX_INPUT_DEPTH));
    expect(findUnsafeInput(nestedArray(200_000))?.message).toBe(INPUT_MESSAGES.tooDeep(MAX_INPUT_DEPTH));
    expect(findUnsafeInput(nestedArray(200_000), { maxDepth: Number.POSITIVE_INFINITY })).toBeUndefined();
  });

  it('treats binary attachments and class instances as leaves', () => {
    expect(findUnsafeInput({ blob: Buffer.alloc(1_000_000) })).toBeUndefined();
    expect(findUnsafeInput({ when: new Date(0), bytes: new Uint8Array(10) })).toBeUndefined();
  });

  it('agrees with the recursive reference on arbitrary JSON with nasty strings', () => {
    fc.assert(
      fc.property(jsonTree(nastyString), fc.integer({ min: 1, max: 6 }), (value, maxDepth) => {
        const found = findUnsafeInput(value, { maxDepth });
        const expected = reference(value, maxDepth);
        expect(found ? { path: found.path, message: found.message } : undefined).toEqual(expected);
        if (found) expect(found.path).toBe(found.segments.join('.'));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('finds nothing in JSON built from clean strings within the depth limit', () => {
    fc.assert(
      fc.property(jsonTree(cleanString), (value) => {
        expect(findUnsafeInput(value, { maxDepth: 1_000 })).toBeUndefined();
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('passes only values whose JSON survives UTF-8 unchanged and holds no NUL: what Postgres stores is what was sent', () => {
    fc.assert(
      fc.property(jsonTree(nastyString), (value) => {
        if (findUnsafeInput(value, { maxDepth: 1_000 })) return;
        const json = JSON.stringify(value);
        expect(Buffer.from(json, 'utf8').toString('utf8')).toBe(json);
        expect(json).not.toContain('\\u0000');
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('the shared schemas use the same rules', () => {
  it('storableString refuses NUL and lone surrogates, and tells \\ud800 from \\udfff by refusing both', () => {
    const schema = storableString(128);
    expect(schema.safeParse('ok').success).toBe(true);
    for (const bad of ['\ud800', '\udfff', 'a\u0000']) expect(schema.safeParse(bad).success).toBe(false);
  });

  it('event data nested 4,500 levels deep is refused by the schema itself, without a stack overflow', () => {
    const result = eventInputSchema.safeParse({ type: 'a', data: { deep: nestedObject(4_500) } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(INPUT_MESSAGES.tooDeep(MAX_INPUT_DEPTH));
  });

  it('event data with a lone surrogate key is refused on the field, the spot inside it in the message', () => {
    const result = eventBatchSchema.safeParse({ events: [{ type: 'a', data: { nested: { '\ud800': 1 } } }] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['events', 0, 'data']);
    expect(result.error?.issues[0]?.message).toBe(`${INPUT_MESSAGES.keyIllFormed} (at nested)`);
  });
});
