// Tells a log's format from its lines, one at a time, so a streaming log can be parsed from its
// first recognisable line. Each test tool has lines no other tool prints; the first one decides.

import { cleanLine, type ResultFormat } from './result-parser.js';

/** `json` is a JSON report whose kind (jest, vitest, ctrf, keel) is known only once it is whole. */
export type DetectedFormat = ResultFormat | 'json';

const SIGNATURES: readonly [RegExp, DetectedFormat][] = [
  [/^(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?\[\s*\d+\/\d+(?:\/\d+)?\] test/, 'regrtest'],
  // `keel test` says `Run 2 test files sequentially`; its output is regrtest-shaped.
  [/^(?:\d+:\d\d:\d\d )?(?:load avg: [\d.]+ )?Run \d+ tests?(?: files?)? (?:sequentially|in parallel)/, 'regrtest'],
  [/^== Tests result: /, 'regrtest'],
  [/^=+ test session starts =+$/, 'pytest'],
  [/^\S+\.py::\S+ (?:PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|RERUN)\b/, 'pytest'],
  [/^(?:PASSED|FAILED|ERROR|XFAIL|XPASS) \S+\.py::\S+/, 'pytest'],
  [/^=+ (?:short test summary info|FAILURES|ERRORS) =+$/, 'pytest'],
  [/^TAP version 1[34]$/, 'tap'],
  [/^=== RUN {3}\S/, 'go'],
  [/^--- (?:PASS|FAIL|SKIP): \S+ \([\d.]+s\)$/, 'go'],
  [/^(?:ok|FAIL)\s+\S+\s+(?:[\d.]+s|\(cached\))$/, 'go'],
  [/^running \d+ tests?$/, 'cargo'],
  [/^\s+Running (?:unittests )?\S+ \(target\//, 'cargo'],
  [/^test \S+ \.\.\. (?:ok|FAILED|ignored)/, 'cargo'],
  [/^\s*[✔✖﹣] .* \(\d+\.\d+ms\)(?: # .*)?$/, 'node'],
  [/^ℹ (?:tests|pass|fail) \d+$/, 'node'],
  [/^ {2,}\d+ passing \(\d+m?s\)$/, 'mocha'],
  [/^ {2,}(?:✔|✓) [^(]*(?:\(\d+ms\))?$/, 'mocha'],
  [/^\S+ \([\w.]+\) \.\.\. (?:ok|FAIL|ERROR|skipped|expected failure)/, 'unittest'],
  [/^Ran \d+ tests? in [\d.]+s$/, 'unittest'],
  [/^(?:ok|not ok) \d+\b/, 'tap'],
];

/**
 * The signatures a line without whitespace can match: node's dot reporter (`..X.`). Every one in
 * SIGNATURES has a space or `\s` it cannot match without, so a line of one long token (`yes`
 * zeros, base64, a minified bundle) is tried against these alone: through ANY_SIGNATURE it cost
 * 0.6 µs, 3 ms per 5,000 lines, the `\S+` and `\d+` signatures each running along the token
 * and back. The two sets cannot both match a line, so their order does not matter.
 */
const SPACELESS_SIGNATURES: readonly [RegExp, DetectedFormat][] = [
  [/^[.X]*X[.X]*$/, 'node'],
];
const WHITESPACE = /\s/;

/**
 * Every signature in one regular expression, a group each: a line that matches none, nearly every
 * line of a build log, costs one call instead of one per signature (5,000 lines of a compiler's
 * output: 0.2-0.5 ms instead of 6-16 ms). The alternatives are tried in order, so the first
 * signature that matches still decides.
 */
const ANY_SIGNATURE = new RegExp(SIGNATURES.map(([re]) => {
  // The sources are joined, so a flag would be lost without a word.
  if (re.flags !== '') throw new Error(`format signature ${re} has flags; write them into the pattern`);
  return `(${re.source})`;
}).join('|'));
/** The group of each signature in ANY_SIGNATURE, counting the groups inside the ones before it. */
const SIGNATURE_GROUPS: readonly number[] = (() => {
  const groups: number[] = [];
  let next = 1;
  for (const [re] of SIGNATURES) {
    groups.push(next);
    // Its own group and those inside it: what an empty match of `source|` reports, whole match aside.
    next += new RegExp(`${re.source}|`).exec('')!.length;
  }
  return groups;
})();

/** Incremental detector: feed lines until it names a format. */
export class FormatDetector {
  private seenContent = false;

  /** Returns the format this line proves, or undefined if it proves nothing yet. */
  feed(raw: string): DetectedFormat | undefined {
    const line = cleanLine(raw);
    const t = line.trimStart();
    if (t === '') return undefined;
    const first = !this.seenContent;
    this.seenContent = true;
    if (t.startsWith('<')) {
      if (/^<\?xml\b/.test(t)) return 'junit';
      if (/^<testsuites?[\s>]/.test(t)) return 'junit';
      return undefined;
    }
    if (t.startsWith('{')) {
      if (t.includes('"Action"') && t.includes('"Package"')) return 'go';
      // A JSON report is one document; it may follow other output (jest --json prints to stdout).
      if (first || t === '{' || /^\{"(?:num\w+|results|version|testResults|stats)"/.test(t)) return 'json';
      return undefined;
    }
    if (!WHITESPACE.test(line)) return SPACELESS_SIGNATURES.find(([re]) => re.test(line))?.[1];
    const m = ANY_SIGNATURE.exec(line);
    if (m === null) return undefined;
    const i = SIGNATURE_GROUPS.findIndex((g) => m[g] !== undefined);
    return SIGNATURES[i]?.[1];
  }
}

/** Detects the format of a whole text; undefined when nothing in it is recognised. */
export function detectFormat(text: string): DetectedFormat | undefined {
  const d = new FormatDetector();
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const f = d.feed(text.slice(start, end));
    if (f) return f;
    start = end + 1;
  }
  return undefined;
}
