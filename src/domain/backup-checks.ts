/**
 * What a restored copy must match of its manifest: the same tables with the same row counts.
 * Returns each difference as a sentence (empty when the copy matches).
 */
export function tableCountDifferences(expected: Readonly<Record<string, number>>, actual: Readonly<Record<string, number>>): string[] {
  const differences: string[] = [];
  for (const [table, count] of Object.entries(expected)) {
    const found = actual[table];
    if (found === undefined) differences.push(`table ${table} is missing (expected ${count} rows)`);
    else if (found !== count) differences.push(`table ${table} has ${found} rows, expected ${count}`);
  }
  for (const table of Object.keys(actual)) {
    if (!(table in expected)) differences.push(`table ${table} is not in the manifest`);
  }
  return differences;
}
