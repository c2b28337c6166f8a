// The contract every log and report parser meets: fed a log line by line as it streams (like
// Buildbot's log observers), it keeps what it understood and hands it over at finish().

import type { TestCaseResult } from './model.js';

export const RESULT_FORMATS = [
  'regrtest', 'unittest', 'pytest', 'junit', 'tap', 'node', 'jest', 'vitest', 'mocha', 'go', 'cargo', 'ctrf', 'keel',
] as const;

export type ResultFormat = (typeof RESULT_FORMATS)[number];

export type LogStream = 'stdout' | 'stderr';

export interface ParseResult {
  /** The format that was parsed, or `unknown` when nothing in the input was recognised. */
  format: ResultFormat | 'unknown';
  /** One entry per test, each test once: re-runs are folded into their final attempt. */
  tests: TestCaseResult[];
  /** The tool's own closing verdict line, when it printed one (`FAILED (failures=2)`). */
  toolSummary?: string;
}

/**
 * An incremental parser. Lifecycle: any number of feedLine() calls, then one finish(); the
 * parser is not used after finish(). feedLine() takes one line without its line ending (a
 * trailing CR and ANSI colour codes are tolerated) and must never throw, whatever the input:
 * a parser that does not understand a line ignores it. finish() may be called on a log that
 * was cut off anywhere and reports what it knows, marking tests that never ended.
 * Not safe for concurrent use; one parser reads one log. The stream tells stdout from stderr
 * for formats that need it (a JSON report on stdout with progress on stderr).
 */
export interface LineParser {
  feedLine(line: string, stream?: LogStream): void;
  finish(): ParseResult;
}

/** A parser of one known format. */
export interface ResultParser extends LineParser {
  readonly format: ResultFormat;
}

// ESC [ ... final byte: colours and cursor moves; ESC ] ... BEL: terminal titles and links.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]/g;

/** Strips trailing CRs and ANSI escapes; cheap when there are none, which is the usual case. */
export function cleanLine(line: string): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 13) end--;
  if (end !== line.length) line = line.slice(0, end);
  if (line.includes('\x1b')) line = line.replace(ANSI, '');
  return line;
}

/** Joins collected lines, capped so one runaway traceback cannot eat the memory of a build. */
export const MAX_DETAILS_CHARS = 64 * 1024;

export function joinDetails(lines: readonly string[]): string | undefined {
  if (lines.length === 0) return undefined;
  let text = lines.join('\n').replace(/^\n+|\s+$/g, '');
  if (text.length === 0) return undefined;
  if (text.length > MAX_DETAILS_CHARS) text = text.slice(0, MAX_DETAILS_CHARS) + '\n… (cut)';
  return text;
}

/** Appends to a bounded list of detail lines; lines past the cap are dropped. */
export function pushDetail(lines: string[], line: string): void {
  if (lines.length < 2000) lines.push(line);
}
