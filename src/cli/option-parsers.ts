// Argument parsers shared by the subcommands' options (commander's custom option processing).
import { KeelError } from '../errors.js';

/** A repeatable option: each use adds its value. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A repeatable option of comma-separated values (`-u network,cpu -u gui`). */
export const collectList = (value: string, previous: string[]): string[] => [
  ...previous,
  ...value.split(',').map((s) => s.trim()).filter(Boolean),
];

/** An integer option of at least `min`, refused with the option's name otherwise. */
export function integer(name: string, min: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new KeelError('KEEL_ERR_USAGE', `${name} expects an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
}
