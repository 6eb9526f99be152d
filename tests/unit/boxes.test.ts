import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BOX_TABLE, rarities, type BoxTable, type Rarity } from '../../src/contracts/api/rules.js';
import { rarityForUniform, rollBox, verifyRoll, type BoxRoll, type ROLL_ALGORITHM } from '../../src/domain/boxes.js';
import { seededWords } from '../support/seeded-random.js';

type Odds = BoxTable['odds'];
type Counts = Record<Rarity, number>;

const SECRET = 'test-secret';
/** Critical value of chi-square with 3 degrees of freedom at p = 0.001. */
const CHI_SQUARE_3DF_P001 = 16.266;
const CUSTOM_TABLE: BoxTable = {
  key: 'custom',
  odds: { common: 50, rare: 30, epic: 15, legendary: 5 },
  pityOpens: 4,
  points: { common: 1, rare: 2, epic: 3, legendary: 4 },
};

/** Version-4-shaped UUID strings; built from whole words because per-digit strings dominated the run time. */
function uuidGenerator(seed: number): () => string {
  const nextWord = seededWords(seed);
  const hex8 = () => nextWord().toString(16).padStart(8, '0');
  return () => {
    const [a, b, c, d] = [hex8(), hex8(), hex8(), hex8()];
    const variant = '89ab'.charAt(Number.parseInt(c.charAt(0), 16) & 3);
    return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  };
}

const zeroCounts = (): Counts => ({ common: 0, rare: 0, epic: 0, legendary: 0 });

/** Counts outcomes without pity; expect() stays out of the loop, which would otherwise dominate the run time. */
function countRarities(table: BoxTable, rolls: number, seed: number): Counts {
  const nextId = uuidGenerator(seed);
  const counts = zeroCounts();
  let pityApplied = 0;
  for (let i = 0; i < rolls; i += 1) {
    const roll = rollBox(SECRET, { boxId: nextId(), opensSinceEpicOrBetter: 0, table });
    if (roll.pityApplied) pityApplied += 1;
    counts[roll.rarity] += 1;
  }
  expect(pityApplied).toBe(0);
  return counts;
}

function chiSquare(counts: Counts, odds: Odds): number {
  const total = rarities.reduce((sum, rarity) => sum + counts[rarity], 0);
  return rarities.reduce((statistic, rarity) => {
    const expected = (total * odds[rarity]) / 100;
    if (expected === 0) return counts[rarity] === 0 ? statistic : Infinity;
    return statistic + (counts[rarity] - expected) ** 2 / expected;
  }, 0);
}

describe('rollBox distribution', () => {
  let defaultCounts = zeroCounts();
  let customCounts = zeroCounts();
  beforeAll(() => {
    defaultCounts = countRarities(DEFAULT_BOX_TABLE, 100_000, 42);
    customCounts = countRarities(CUSTOM_TABLE, 30_000, 7);
  });

  it('fits the published default odds (chi-square, 3 df, p = 0.001)', () => {
    expect(chiSquare(defaultCounts, DEFAULT_BOX_TABLE.odds)).toBeLessThan(CHI_SQUARE_3DF_P001);
  });

  it('fits a custom table just as well', () => {
    expect(chiSquare(customCounts, CUSTOM_TABLE.odds)).toBeLessThan(CHI_SQUARE_3DF_P001);
  });

  it('rejects counts drawn from the other table (the test has power)', () => {
    expect(chiSquare(defaultCounts, CUSTOM_TABLE.odds)).toBeGreaterThan(CHI_SQUARE_3DF_P001);
    expect(chiSquare(customCounts, DEFAULT_BOX_TABLE.odds)).toBeGreaterThan(CHI_SQUARE_3DF_P001);
  });
});

describe('pity', () => {
  interface PityStats {
    longestDrought: number;
    pityRolls: number;
    pityLegendary: number;
    /** Rolls whose pity flag disagreed with the counter, or whose ordinary result was not the plain odds lookup. */
    mismatches: number;
  }

  /** Users open boxes in turn; each keeps the counter the way the caller must: reset on epic or better. */
  function simulate(table: BoxTable, users: number, opensPerUser: number, seed: number): PityStats {
    const nextId = uuidGenerator(seed);
    const stats: PityStats = { longestDrought: 0, pityRolls: 0, pityLegendary: 0, mismatches: 0 };
    for (let user = 0; user < users; user += 1) {
      let counter = 0;
      for (let open = 0; open < opensPerUser; open += 1) {
        const roll = rollBox(SECRET, { boxId: nextId(), opensSinceEpicOrBetter: counter, table });
        if (roll.pityApplied !== (counter === table.pityOpens - 1)) stats.mismatches += 1;
        if (roll.pityApplied) {
          stats.pityRolls += 1;
          if (roll.rarity === 'legendary') stats.pityLegendary += 1;
        } else if (roll.rarity !== rarityForUniform(roll.uniform, table.odds)) {
          // Pity only ever overrides; an ordinary roll must be the plain odds lookup.
          stats.mismatches += 1;
        }
        counter = roll.rarity === 'epic' || roll.rarity === 'legendary' ? 0 : counter + 1;
        stats.longestDrought = Math.max(stats.longestDrought, counter);
      }
    }
    return stats;
  }

  it.each([
    ['default', DEFAULT_BOX_TABLE],
    ['custom', CUSTOM_TABLE],
  ])('never lets %s tables go pityOpens opens without epic or better, with the published epic:legendary split', (_, table) => {
    const stats = simulate(table, 400, 40, 2024);
    expect(stats.mismatches).toBe(0);
    // Reaching the limit shows the guarantee was exercised, not merely never needed.
    expect(stats.longestDrought).toBe(table.pityOpens - 1);
    expect(stats.pityRolls).toBeGreaterThan(500);
    const expectedShare = table.odds.legendary / (table.odds.epic + table.odds.legendary);
    const standardError = Math.sqrt((expectedShare * (1 - expectedShare)) / stats.pityRolls);
    expect(Math.abs(stats.pityLegendary / stats.pityRolls - expectedShare)).toBeLessThan(4 * standardError);
  });

  it('applies from pityOpens - 1 onward, even if a caller overshoots the counter', () => {
    const table = DEFAULT_BOX_TABLE;
    const nextId = uuidGenerator(9);
    for (let i = 0; i < 200; i += 1) {
      const boxId = nextId();
      expect(rollBox(SECRET, { boxId, opensSinceEpicOrBetter: table.pityOpens - 2, table }).pityApplied).toBe(false);
      for (const opens of [table.pityOpens - 1, table.pityOpens, 10 * table.pityOpens]) {
        const roll = rollBox(SECRET, { boxId, opensSinceEpicOrBetter: opens, table });
        expect(roll.pityApplied).toBe(true);
        expect(['epic', 'legendary']).toContain(roll.rarity);
      }
    }
  });

  it('makes every open a pity open when pityOpens is 1', () => {
    const table: BoxTable = { ...DEFAULT_BOX_TABLE, pityOpens: 1 };
    const roll = rollBox(SECRET, { boxId: 'box-1', opensSinceEpicOrBetter: 0, table });
    expect(roll.pityApplied).toBe(true);
    expect(['epic', 'legendary']).toContain(roll.rarity);
  });
});

describe('verifyRoll', () => {
  const nextId = uuidGenerator(5);
  const rolls = Array.from({ length: 50 }, (_, i) =>
    rollBox(SECRET, { boxId: nextId(), opensSinceEpicOrBetter: i % DEFAULT_BOX_TABLE.pityOpens, table: DEFAULT_BOX_TABLE }),
  );
  const otherRarity = (rarity: Rarity): Rarity => rarities[(rarities.indexOf(rarity) + 1) % rarities.length] ?? 'common';
  const flipFirstHexDigit = (hex: string) => (hex.startsWith('0') ? '1' : '0') + hex.slice(1);
  const tamperings: [string, (roll: BoxRoll) => BoxRoll][] = [
    ['rarity', (roll) => ({ ...roll, rarity: otherRarity(roll.rarity) })],
    ['uniform', (roll) => ({ ...roll, uniform: (roll.uniform + 0.5) % 1 })],
    ['uniform by one ulp of 2^-48', (roll) => ({ ...roll, uniform: roll.uniform + 2 ** -48 })],
    ['hmac', (roll) => ({ ...roll, hmac: flipFirstHexDigit(roll.hmac) })],
    ['hmac case', (roll) => ({ ...roll, hmac: roll.hmac.toUpperCase() })],
    ['hmac length', (roll) => ({ ...roll, hmac: roll.hmac.slice(2) })],
    ['pityApplied', (roll) => ({ ...roll, pityApplied: !roll.pityApplied })],
    ['points', (roll) => ({ ...roll, points: roll.points + 1 })],
    // The counter only matters through the pity decision, so move it across the threshold.
    ['opensSinceEpicOrBetter', (roll) => ({ ...roll, opensSinceEpicOrBetter: roll.pityApplied ? 0 : roll.pityOpens - 1 })],
    ['algorithm', (roll) => ({ ...roll, algorithm: 'hmac-sha256/v0' as typeof ROLL_ALGORITHM })],
    ['odds (impossible)', (roll) => ({ ...roll, odds: { ...roll.odds, common: roll.odds.common + 1 } })],
  ];

  it('re-verifies every stored roll, also after a JSON round trip', () => {
    expect(rolls.some((roll) => roll.pityApplied)).toBe(true);
    for (const roll of rolls) {
      expect(verifyRoll(SECRET, roll)).toBe(true);
      expect(verifyRoll(SECRET, JSON.parse(JSON.stringify(roll)) as BoxRoll)).toBe(true);
    }
  });

  it.each(tamperings)('fails when %s is changed', (_, tamper) => {
    for (const roll of rolls) expect(verifyRoll(SECRET, tamper(roll))).toBe(false);
  });

  it('fails under a different secret', () => {
    for (const roll of rolls) expect(verifyRoll(`${SECRET}x`, roll)).toBe(false);
  });

  it('fails for malformed stored rolls instead of throwing', () => {
    const [roll] = rolls;
    if (roll === undefined) throw new Error('no roll');
    expect(verifyRoll(SECRET, { ...roll, opensSinceEpicOrBetter: -1 })).toBe(false);
    expect(verifyRoll(SECRET, { ...roll, pointsPerRarity: {} } as unknown as BoxRoll)).toBe(false);
    expect(verifyRoll(SECRET, { ...roll, hmac: undefined } as unknown as BoxRoll)).toBe(false);
  });

  it('is deterministic and matches a fixed HMAC-SHA256 vector', () => {
    const inputs = { boxId: 'box-1', opensSinceEpicOrBetter: 0, table: DEFAULT_BOX_TABLE };
    const roll = rollBox(SECRET, inputs);
    expect(rollBox(SECRET, inputs)).toEqual(roll);
    // Computed independently: printf 'box-1' | openssl dgst -sha256 -hmac 'test-secret'
    expect(roll).toEqual({
      algorithm: 'hmac-sha256/v1',
      boxId: 'box-1',
      hmac: 'aced8d682310a21f239ef51a29aedfb71216ffcbf8d9ca7075501e41e03c8fc6',
      uniform: 0xaced8d682310 / 2 ** 48,
      odds: DEFAULT_BOX_TABLE.odds,
      pityOpens: 10,
      opensSinceEpicOrBetter: 0,
      pityApplied: false,
      rarity: 'common',
      points: 10,
      pointsPerRarity: DEFAULT_BOX_TABLE.points,
    });
  });

  it('rejects invalid inputs when rolling', () => {
    const table = DEFAULT_BOX_TABLE;
    expect(() => rollBox(SECRET, { boxId: '', opensSinceEpicOrBetter: 0, table })).toThrow(RangeError);
    expect(() => rollBox(SECRET, { boxId: 'b', opensSinceEpicOrBetter: 1.5, table })).toThrow(RangeError);
    expect(() => rollBox(SECRET, { boxId: 'b', opensSinceEpicOrBetter: 0, table: { ...table, pityOpens: 0 } })).toThrow(RangeError);
    expect(() => rollBox(SECRET, { boxId: 'b', opensSinceEpicOrBetter: 0, table: { ...table, odds: { common: 80, rare: 20, epic: 0, legendary: 0 } } })).toThrow(RangeError);
    expect(() => rollBox(SECRET, { boxId: 'b', opensSinceEpicOrBetter: 0, table: { ...table, odds: { ...table.odds, common: 69 } } })).toThrow(RangeError);
  });
});

describe('rarityForUniform', () => {
  const uniform = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  /** Odds summing to 100 (up to rounding) where some rarities are often exactly 0 %. */
  const oddsWithZeros = fc
    .tuple(...rarities.map(() => fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000 }))))
    .filter((weights) => weights.some((weight) => weight > 0))
    .map((weights): Odds => {
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      const [common = 0, rare = 0, epic = 0, legendary = 0] = weights.map((weight) => (100 * weight) / total);
      return { common, rare, epic, legendary };
    });

  it('never yields a rarity with 0 % odds', () => {
    fc.assert(
      fc.property(uniform, oddsWithZeros, (u, odds) => {
        expect(odds[rarityForUniform(u, odds)]).toBeGreaterThan(0);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never yields a 0 % rarity under pity either', () => {
    const ids = uuidGenerator(11);
    fc.assert(
      fc.property(oddsWithZeros.filter((odds) => odds.epic + odds.legendary > 0), (odds) => {
        const roll = rollBox(SECRET, { boxId: ids(), opensSinceEpicOrBetter: 9, table: { ...DEFAULT_BOX_TABLE, odds } });
        expect(roll.pityApplied).toBe(true);
        expect(odds[roll.rarity]).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('places band edges by cumulative odds in the fixed order', () => {
    const odds = DEFAULT_BOX_TABLE.odds;
    expect(rarityForUniform(0, odds)).toBe('common');
    expect(rarityForUniform(0.6999, odds)).toBe('common');
    expect(rarityForUniform(0.7, odds)).toBe('rare');
    expect(rarityForUniform(0.9, odds)).toBe('epic');
    expect(rarityForUniform(0.98, odds)).toBe('legendary');
    expect(rarityForUniform(1 - 2 ** -48, odds)).toBe('legendary');
    expect(rarityForUniform(0.5, { common: 0, rare: 0, epic: 0, legendary: 100 })).toBe('legendary');
    expect(() => rarityForUniform(1, odds)).toThrow(RangeError);
    expect(() => rarityForUniform(Number.NaN, odds)).toThrow(RangeError);
  });
});
