import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/**
 * A command's options, with `--help`/`-h` added: help prints the usage and exits 0; a usage
 * mistake (an unknown option, a missing value) prints what is wrong and the usage and exits 2.
 */
export function parseCommandOptions<O extends ParseArgsOptionsConfig>(options: O, usage: string): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  try {
    const withHelp: ParseArgsOptionsConfig = { ...options, help: { type: 'boolean', short: 'h' } };
    const { values } = parseArgs({ options: withHelp });
    if (values.help === true) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (error) {
    return exitWithUsage((error as Error).message, usage);
  }
}

/** Prints the problem and the usage, then exits 2 (a usage mistake). */
export function exitWithUsage(problem: string, usage: string): never {
  process.stderr.write(`${problem}\n${usage}\n`);
  process.exit(2);
}
