// Failure fingerprints: one short hash per distinct failure, the same on every builder and every
// day, from a failure's message and its traceback or stack (Python, JavaScript, Go, Rust, Java).
import { createHash } from 'node:crypto';
import type { TestCaseResult } from '../results/model.js';

/**
 * Part of every hash. Any change to the normalisation or to the frames chosen changes the
 * fingerprint of some failures, so it bumps this number; stored fingerprints of an older
 * version are then recomputed from the stored message and details, never compared as they are.
 */
export const FINGERPRINT_VERSION = 1;

/** How many frames, innermost first, identify where a failure happened. */
export const TOP_FRAMES = 3;

/** Longest normalised message kept: past this a message is data (a diff, a dump), not identity. */
const MAX_MESSAGE_CHARS = 300;

export type FailureInput = Pick<TestCaseResult, 'message' | 'details'>;

/** What a fingerprint is made of, normalised; the UI shows it so people can see why failures group. */
export interface FailureSignature {
  /** The exception or panic type (`AssertionError`, `TypeError`, `panic` …); '' when none is named. */
  type: string;
  /** The failure's first line without its type, normalised (see normaliseFailureText). */
  message: string;
  /** Up to TOP_FRAMES frames as `file:function` (file without directory or line), innermost first. */
  frames: string[];
}

/**
 * The fingerprint of a failure: 16 hex digits, or undefined when the failure says nothing at
 * all (no message, no details), since grouping every silent failure together would join
 * unrelated tests. The test's id is deliberately not part of it: the same failure in many tests
 * (a refused connection, a missing binary) is one group, and the callers that want one group
 * per test key by test id and fingerprint.
 */
export function failureFingerprint(failure: FailureInput): string | undefined {
  const signature = failureSignature(failure);
  if (signature === undefined) return undefined;
  return hashSignature(signature);
}

export function hashSignature(signature: FailureSignature): string {
  const text = [`v${FINGERPRINT_VERSION}`, signature.type, signature.message, ...signature.frames].join('\0');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function failureSignature(failure: FailureInput): FailureSignature | undefined {
  const details = stripAnsi(failure.details ?? '').replace(/\r/g, '');
  const message = stripAnsi(failure.message ?? '').replace(/\r/g, '');
  if (details.trim() === '' && message.trim() === '') return undefined;
  const lines = details.split('\n');
  const parsed = parseStack(lines);
  // The header from the details wins over the message: reporters disagree on whether the
  // message carries the type (`kaboom` in Vitest's JUnit, `Error: kaboom` in its stack).
  const header = parsed.header ?? splitHeader(firstLine(message) || firstLine(details));
  const frames = pickFrames(parsed.frames);
  return {
    type: header.type,
    // Cut before normalising too, so a megabyte on one line costs no more than its start.
    message: normaliseFailureText(header.message.slice(0, 4 * MAX_MESSAGE_CHARS)).slice(0, MAX_MESSAGE_CHARS),
    frames: frames.map((f) => `${f.file}:${f.func}`),
  };
}

// ---------------------------------------------------------------------------------------------
// Normalisation

// Colour codes, when a failure comes from a coloured console log.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

function stripAnsi(text: string): string {
  return text.includes('\x1b') ? text.replace(ANSI, '') : text;
}

const MONTHS = 'Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec';
const DAYS = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
// Anything that cannot be part of a path in a message: whitespace, quotes, closing brackets.
const PATH_CHAR = String.raw`[^\s'"\`,;()\[\]{}<>]`;

/**
 * The replacements, in order; each is listed in docs/insight.md. The order matters: a UUID or a
 * timestamp is made of numbers, a temporary path would lose its `<tmp>` to the path rule, and a
 * port must be seen before the numbers go.
 */
const NORMALISATIONS: readonly [RegExp, string][] = [
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [new RegExp(String.raw`\b(?:(?:${DAYS}),? )?\d{1,2} (?:${MONTHS})[a-z]* \d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?(?: (?:GMT|UTC|[+-]\d{4}))?`, 'g'), '<time>'],
  [new RegExp(String.raw`\b(?:(?:${DAYS}) )?(?:${MONTHS}) +\d{1,2} \d{1,2}:\d{2}:\d{2}(?: \d{4})?`, 'g'), '<time>'],
  [/\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?/g, '<time>'],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b/g, '<time>'],
  // Temporary folders: Linux and most CI images, macOS (per-user folders under /var/folders),
  // Windows (the user's AppData\Local\Temp, or C:\Temp, C:\Windows\Temp), with backslashes
  // doubled as Python's repr() prints them.
  [new RegExp(String.raw`(?:/private)?/var/folders/${PATH_CHAR}*`, 'g'), '<tmp>'],
  [new RegExp(String.raw`(?<![\w.])/(?:tmp|var/tmp|dev/shm)(?![\w.-])(?:/${PATH_CHAR}*)?`, 'g'), '<tmp>'],
  [new RegExp(String.raw`\b[A-Za-z]:(?:\\{1,2}|/)(?:Users(?:\\{1,2}|/)[^\\/\s'"]+(?:\\{1,2}|/)AppData(?:\\{1,2}|/)Local(?:\\{1,2}|/)|Windows(?:\\{1,2}|/))?Temp(?:(?:\\{1,2}|/)${PATH_CHAR}*)?`, 'gi'), '<tmp>'],
  // Other absolute paths keep only their last part: the checkout lives in a different folder
  // on every builder (/home/buildbot/3.x.ubuntu/build, C:\buildbot\3.x.win\build).
  [new RegExp(String.raw`\b[A-Za-z]:(?:\\{1,2}|/)(?:[^\\/\s'"]+(?:\\{1,2}|/))*([^\\/\s'"]+)`, 'g'), '$1'],
  [/(?<![\w.:/~-])(?:~|\/)(?:[\w.@+-]+\/)+([\w.@+-]+)/g, '$1'],
  [/(?<=(?:\blocalhost|\b\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])):\d{1,5}\b/g, ':<port>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  // Bare hexadecimal runs with both digits and letters (commit ids, object ids, hashes).
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>'],
  // Durations: `0.25s`, `200 ms`, `1.5 seconds`, Go's `1m30.5s`.
  [/\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|h)(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h))*(?![\w])/g, '<duration>'],
  // Every other number (counts, sizes, pids, line numbers, thread ids) unless it ends a word
  // (`int64`, `utf8`, `x86` name things, they do not count them).
  [/(?<![A-Za-z\d])\d+(?:\.\d+)*(?:e[+-]?\d+)?/g, '<n>'],
  [/\s+/g, ' '],
];

/** Normalises a failure's text so that what varies between runs of the same failure does not count. */
export function normaliseFailureText(text: string): string {
  let out = stripAnsi(text);
  for (const [pattern, replacement] of NORMALISATIONS) out = out.replace(pattern, replacement);
  return out.trim();
}

// ---------------------------------------------------------------------------------------------
// Header: the exception type and message

interface Header {
  type: string;
  message: string;
}

// `AssertionError`, `urllib.error.URLError`, `java.lang.NullPointerException`, `Error`,
// optionally followed by `: message`. Node's bracket after the name is dropped: it is an error
// code (`AssertionError [ERR_ASSERTION]`) or, in Node 20 only, `TypeError [Error]`, and keeping
// it would split one failure between Node versions.
const TYPE_LINE = /^((?:[A-Za-z_$][\w$]*\.)*(?:(?:[A-Za-z_$][\w$]*)?(?:Error|Exception|Exit|Interrupt|Warning|Failure|Failed|Fault)|StopIteration|StopAsyncIteration))(?: \[[\w.]+\])?(?::\s*(.*))?$/;

function splitHeader(line: string): Header {
  const trimmed = line.trim();
  const go = /^panic: (.*?)(?: \[recovered\])?$/.exec(trimmed);
  if (go) return { type: 'panic', message: go[1] ?? '' };
  const m = TYPE_LINE.exec(trimmed);
  if (m) return { type: m[1] ?? '', message: m[2] ?? '' };
  return { type: '', message: trimmed };
}

function firstLine(text: string): string {
  for (const line of text.split('\n')) if (line.trim() !== '') return line.trim();
  return '';
}

// ---------------------------------------------------------------------------------------------
// Frames

interface Frame {
  file: string;
  func: string;
  /** Test-framework or runtime internals: left out while other frames remain. */
  noise: boolean;
}

interface ParsedStack {
  header?: Header;
  /** Innermost first. */
  frames: Frame[];
}

function baseName(path: string): string {
  const clean = path.replace(/^file:\/\//, '').replace(/[?#].*$/, '');
  const parts = clean.split(/[\\/]+/);
  return parts[parts.length - 1] ?? clean;
}

function frame(file: string, func: string): Frame {
  return { file: baseName(file), func, noise: isNoise(file, func) };
}

const NOISE_FILE = [
  /^node:/, /^internal\//, /[\\/]node_modules[\\/]/, /^<anonymous>$/, /^native$/, /^index \d+$/, /^<frozen /,
  /[\\/]unittest[\\/](?:case|suite|main|runner|loader|async_case)\.py$/, /[\\/]_pytest[\\/]/, /[\\/]pluggy[\\/]/,
  /[\\/]src[\\/](?:runtime|testing)[\\/][^\\/]+\.go$/,
];
const NOISE_FUNC = [
  /^(?:runtime|testing)\./, /^panic$/,
  /^(?:java|javax|jdk\.internal|sun\.reflect|org\.junit|junit\.framework|org\.apache\.maven)\./,
];

function isNoise(file: string, func: string): boolean {
  return NOISE_FILE.some((re) => re.test(file)) || NOISE_FUNC.some((re) => re.test(func));
}

function pickFrames(frames: readonly Frame[]): Frame[] {
  const own = frames.filter((f) => !f.noise);
  return (own.length > 0 ? own : frames).slice(0, TOP_FRAMES);
}

const PY_FRAME = /^\s*File "([^"]+)", line \d+,? in (\S+)/;
const PYTEST_LOCATION = /^(\S+\.py):\d+: (?:in (\S+)|(\S+))$/;
// `at fn (file:12:3)`, `at fn (<anonymous>)`, `at async Promise.all (index 0)`, `at file:12:3`.
const JS_FRAME = /^\s*at (?:async )?(?:(.+?) \((?:([^()]+?):\d+(?::\d+)?|(<anonymous>|native|index \d+))\)|(\S+?):\d+:\d+)$/;
const JAVA_FRAME = /^\s*at ([\w$.<>]+)\(([^:()]+)(?::\d+)?\)$/;
const VITEST_FRAME = /^\s*❯ (?:(\S+) )?(\S+?):\d+(?::\d+)?$/;
const GO_FUNC = /^(\S+)\([^()]*\)$/;
const GO_FILE = /^\t(\S+):\d+(?: \+0x[0-9a-f]+)?$/;
const RUST_PANIC_NEW = /^thread '.*'(?: \(\d+\))? panicked at (\S+?):\d+:\d+:$/;
const RUST_PANIC_OLD = /^thread '.*'(?: \(\d+\))? panicked at '(.*)', (\S+?):\d+:\d+$/;
const GO_TEST_ERROR = /^\s*(\S+_test\.go):\d+: (.*)$/;

/** Recognises the stack format from its lines and returns its header and frames. */
function parseStack(lines: readonly string[]): ParsedStack {
  const tracebackAt = lastIndexWhere(lines, (l) => /Traceback \(most recent call last\):\s*$/.test(l));
  if (tracebackAt >= 0) return parsePythonTraceback(lines.slice(tracebackAt + 1));
  if (lines.some((l) => /\(most recent call first\):$/.test(l))) return parseFaulthandler(lines);
  if (lines.some((l) => /^E {3,}\S/.test(l)) || lines.some((l) => PYTEST_LOCATION.test(l))) return parsePytest(lines);
  const rust = lines.findIndex((l) => RUST_PANIC_NEW.test(l) || RUST_PANIC_OLD.test(l));
  if (rust >= 0) return parseRust(lines, rust);
  const goPanic = lines.findIndex((l) => /^\s*panic: /.test(l));
  if (goPanic >= 0 && lines.some((l) => /^goroutine \d+ \[/.test(l))) return parseGo(lines, goPanic);
  if (lines.some((l) => JAVA_FRAME.test(l) || JS_FRAME.test(l) || VITEST_FRAME.test(l))) return parseJsOrJava(lines);
  const goTest = lines.map((l) => GO_TEST_ERROR.exec(l)).find((m) => m !== null);
  if (goTest) return { header: { type: '', message: goTest[2] ?? '' }, frames: [frame(goTest[1] ?? '', '')] };
  return { frames: [] };
}

function lastIndexWhere<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i] as T)) return i;
  return -1;
}

/** The last traceback of a chain: frames oldest first, then the exception line at column 0. */
function parsePythonTraceback(lines: readonly string[]): ParsedStack {
  const frames: Frame[] = [];
  let header: Header | undefined;
  for (const line of lines) {
    const m = PY_FRAME.exec(line);
    if (m) frames.push(frame(m[1] ?? '', m[2] ?? ''));
    else if (header === undefined && line !== '' && !/^\s/.test(line)) header = splitHeader(line);
  }
  return { header, frames: frames.reverse() };
}

/** faulthandler's dump (a crash or a timeout): `Fatal Python error: …`, then frames innermost first. */
function parseFaulthandler(lines: readonly string[]): ParsedStack {
  const frames: Frame[] = [];
  let inFirstThread = false;
  for (const line of lines) {
    if (/\(most recent call first\):$/.test(line)) {
      if (frames.length > 0) break;
      inFirstThread = true;
      continue;
    }
    const m = inFirstThread ? PY_FRAME.exec(line) : null;
    if (m) frames.push(frame(m[1] ?? '', m[2] ?? ''));
  }
  const fatal = lines.find((l) => /^Fatal Python error: /.test(l));
  const header = fatal ? { type: 'Fatal Python error', message: fatal.replace(/^Fatal Python error: /, '') } : undefined;
  return { header, frames };
}

/** pytest's long and short tracebacks: `path.py:12: in func` per entry, `E   Type: message`. */
function parsePytest(lines: readonly string[]): ParsedStack {
  const frames: Frame[] = [];
  let lastDef = '';
  let header: Header | undefined;
  for (const line of lines) {
    const def = /^\s*(?:async )?def (\w+)\(/.exec(line);
    if (def) lastDef = def[1] ?? '';
    const e = /^E {3,}(\S.*)$/.exec(line);
    if (e && header === undefined) header = splitHeader(e[1] ?? '');
    const m = PYTEST_LOCATION.exec(line);
    if (m) {
      frames.push(frame(m[1] ?? '', m[2] ?? lastDef));
      lastDef = '';
    }
  }
  return { header, frames: frames.reverse() };
}

/**
 * A Rust panic is identified by where it panicked and by its thread, which the test harness
 * names after the test. The backtrace is left out on purpose: it is there only when
 * RUST_BACKTRACE is set, and a builder that sets it must group with one that does not.
 */
function parseRust(lines: readonly string[], at: number): ParsedStack {
  const first = lines[at] ?? '';
  const old = RUST_PANIC_OLD.exec(first);
  const location = old ? old[2] ?? '' : RUST_PANIC_NEW.exec(first)?.[1] ?? '';
  const message = old ? old[1] ?? '' : lines[at + 1] ?? '';
  const thread = /^thread '([^']*)'/.exec(first)?.[1] ?? '';
  return { header: { type: 'panic', message }, frames: [frame(location, thread)] };
}

function parseGo(lines: readonly string[], at: number): ParsedStack {
  const frames: Frame[] = [];
  for (let i = at; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.startsWith('created by ')) break;
    const m = GO_FUNC.exec(line);
    const where = m ? GO_FILE.exec(lines[i + 1] ?? '') : null;
    if (m && where) {
      frames.push(frame(where[1] ?? '', m[1] ?? ''));
      i++;
    }
  }
  return { header: splitHeader(lines[at] ?? ''), frames };
}

/** V8 stacks (`at fn (file:line:col)`), Vitest's `❯ file:line:col` and Java's `at pkg.Cls.fn(File.java:12)`. */
function parseJsOrJava(lines: readonly string[]): ParsedStack {
  const frames: Frame[] = [];
  let header: Header | undefined;
  for (const line of lines) {
    const java = JAVA_FRAME.exec(line);
    if (java) {
      frames.push(frame(java[2] ?? '', java[1] ?? ''));
      continue;
    }
    const vitest = VITEST_FRAME.exec(line);
    if (vitest) {
      frames.push(frame(vitest[2] ?? '', vitest[1] ?? ''));
      continue;
    }
    const js = JS_FRAME.exec(line);
    if (js) {
      frames.push(frame(js[2] ?? js[3] ?? js[4] ?? '', js[1] ?? ''));
      continue;
    }
    // The error's own line comes before its frames; Node prints `Error: x` then `    at …`.
    if (header === undefined && frames.length === 0 && line.trim() !== '') {
      const h = splitHeader(line);
      if (h.type !== '') header = h;
    }
  }
  return { header, frames };
}
