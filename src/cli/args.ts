// What every idpsync command shares: its usage errors (exit code 2) and how `--help` is recognised.

/** A mistake in how a command was called; the CLI prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a command writes: `out` for results, `err` for diagnostics. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** By name rather than instanceof: a module loaded both as CommonJS and as ESM (tests) has two classes. */
export function isUsageError(err: unknown): err is UsageError {
  return err instanceof Error && err.name === 'UsageError';
}

export const consoleOutput: Output = { out: (text) => console.log(text), err: (text) => console.error(text) };

/** True when `--help` or `-h` comes before any `--` (after which everything is an argument). */
export function wantsHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/**
 * Runs node:util parseArgs (through `parse`) and turns its errors into UsageErrors with short
 * messages: node's own explain the `--` convention at length and never name the command.
 */
export function parseOrExplain<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = err instanceof Error ? err.message : String(err);
    switch (code) {
      case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
        throw new UsageError(`unknown option ${/'([^']+)'/.exec(message)?.[1] ?? message}`);
      case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
        throw new UsageError(`unexpected argument ${/'([^']+)'/.exec(message)?.[1] ?? message}`);
      case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
        const missing = /^Option '(.+?)(?: <value>)?' argument missing/.exec(message);
        if (missing) throw new UsageError(`${missing[1]} needs a value`);
        const extra = /^Option '(.+?)' does not take an argument/.exec(message);
        throw new UsageError(extra ? `${extra[1]} does not take a value` : message);
      }
      default:
        throw err;
    }
  }
}
