import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('runtime', () => {
  it('runs on Node 24, the LTS the project pins', () => {
    expect(process.versions.node.split('.')[0]).toBe('24');
  });

  it('declares Node 24 in engines and .nvmrc', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=24 <25');
    expect(readFileSync('.nvmrc', 'utf8').trim()).toBe('24');
  });
});
