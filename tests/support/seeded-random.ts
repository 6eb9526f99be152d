/**
 * mulberry32: a tiny deterministic PRNG, so seeded test data (simulator records, box ids) is the
 * same on every run. Not for anything that needs real randomness.
 */

/** Unsigned 32-bit words from `seed`. */
export function seededWords(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Numbers in [0, 1) from `seed` (each word divided by 2^32). */
export function prng(seed: number): () => number {
  const nextWord = seededWords(seed);
  return () => nextWord() / 4294967296;
}
