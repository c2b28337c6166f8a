// Leak hunting (`keel test -R W:R`), after regrtest's refleak.py: a file's tests run W warm-up
// times and R counted times in one process; what the process holds after each run is compared
// with the run before, and a counter that grew on every counted run is a leak.
import { KeelError } from '../errors.js';
import type { FileRun, HuntSample } from './file-result.js';

export interface HuntSpec {
  warmups: number;
  runs: number;
}

/** regrtest's defaults for `-R :`. */
const DEFAULT_WARMUPS = 3;
const DEFAULT_RUNS = 3;

/**
 * Heap growth per counted run that is not a leak: a base, plus an allowance per test the run
 * reported. Measured with bench/hunt-leaks/heap-noise.ts (numbers in docs/keel-test.md, "Leak
 * hunting"): a clean small file's heap moves by up to 0.3 MB from run to run, and node:test keeps
 * a record of every test it ran (about 3 KB each, 6 KB at worst), so a clean file of 1000 tests
 * grows by about 3 MB per run without leaking anything.
 */
export interface HeapTolerance {
  baseBytes: number;
  perTestBytes: number;
}

export const HEAP_TOLERANCE: HeapTolerance = { baseBytes: 512 * 1024, perTestBytes: 6 * 1024 };

/** Parses `W:R`, `W:`, `:R` or `:` (regrtest's `-R` syntax). */
export function parseHuntSpec(text: string): HuntSpec {
  const m = /^(\d*):(\d*)$/.exec(text.trim());
  if (!m) throw new KeelError('KEEL_ERR_USAGE', `-R/--hunt-leaks expects WARMUPS:RUNS such as 3:3, got ${JSON.stringify(text)}`);
  const warmups = m[1] ? Number(m[1]) : DEFAULT_WARMUPS;
  const runs = m[2] ? Number(m[2]) : DEFAULT_RUNS;
  if (runs < 1) throw new KeelError('KEEL_ERR_USAGE', `-R/--hunt-leaks needs at least one counted run, got ${JSON.stringify(text)}`);
  return { warmups, runs };
}

export interface LeakFinding {
  /** What grew: `heap`, `fds`, or a handle or request type such as `Timeout`. */
  what: string;
  /** Growth on each counted run (bytes for the heap). */
  deltas: number[];
  /** regrtest's wording, without the file's name: `leaked [3, 3, 3] handles (Timeout), sum=9`. */
  text: string;
}

const MB = 1024 * 1024;
const mb = (bytes: number) => (bytes / MB).toFixed(1);

/** The growth of each counted run over the run before it, or null when samples are missing. */
function countedDeltas(samples: HuntSample[], spec: HuntSpec, value: (s: HuntSample) => number | null): number[] | null {
  const byRun = new Map(samples.map((s) => [s.run, s]));
  const deltas: number[] = [];
  for (let run = spec.warmups; run < spec.warmups + spec.runs; run++) {
    const before = byRun.get(run - 1);
    const after = byRun.get(run);
    if (!before || !after) return null;
    const a = value(after);
    const b = value(before);
    if (a === null || b === null) return null;
    deltas.push(a - b);
  }
  return deltas;
}

/**
 * The leaks in a file's samples. The rule is regrtest's for references and memory blocks
 * (`all(delta >= 1 for delta in deltas)`): a counter leaks when it grew on every one of the R
 * counted runs; growth on some runs only is noise (a cache filled once, a lazy compile). The heap
 * must grow on every counted run by more than the tolerance for that run (base + per test). File descriptors follow the
 * same rule; regrtest flags any change in them, which Node's lazily opened descriptors would turn
 * into false alarms.
 */
export function findLeaks(samples: HuntSample[], spec: HuntSpec, heapTolerance: HeapTolerance = HEAP_TOLERANCE): LeakFinding[] {
  const findings: LeakFinding[] = [];
  const sum = (d: number[]) => d.reduce((a, b) => a + b, 0);

  const types = new Set(samples.flatMap((s) => Object.keys(s.resources)));
  for (const type of [...types].sort()) {
    const deltas = countedDeltas(samples, spec, (s) => s.resources[type] ?? 0);
    if (!deltas || !deltas.every((d) => d >= 1)) continue;
    const kind = /Req|Request/.test(type) ? 'requests' : 'handles';
    findings.push({ what: type, deltas, text: `leaked [${deltas.join(', ')}] ${kind} (${type}), sum=${sum(deltas)}` });
  }

  const fds = countedDeltas(samples, spec, (s) => s.fds);
  if (fds && fds.every((d) => d >= 1)) {
    findings.push({ what: 'fds', deltas: fds, text: `leaked [${fds.join(', ')}] file descriptors, sum=${sum(fds)}` });
  }

  const heap = countedDeltas(samples, spec, (s) => s.heapUsed);
  const tests = countedDeltas(samples, spec, (s) => s.tests);
  const allowed = (i: number) => heapTolerance.baseBytes + heapTolerance.perTestBytes * (tests?.[i] ?? 0);
  if (heap && heap.every((d, i) => d > allowed(i))) {
    findings.push({ what: 'heap', deltas: heap, text: `leaked [${heap.map(mb).join(', ')}] MB of heap, sum=${mb(sum(heap))}` });
  }
  return findings;
}

/**
 * Puts the hunt's verdict on a run: its leaks, and the `leaked` state when the file otherwise
 * passed (a failing or crashed file keeps its state; its leaks are still listed).
 */
export function applyLeakVerdict(run: FileRun, spec: HuntSpec, heapTolerance: HeapTolerance = HEAP_TOLERANCE): void {
  if (!run.samples) return;
  const leaks = findLeaks(run.samples, spec, heapTolerance).map((f) => f.text);
  if (!leaks.length) return;
  run.leaks = leaks;
  if (run.state === 'passed' || run.state === 'env changed' || run.state === 'skipped' || run.state === 'no tests ran') {
    run.state = 'leaked';
    run.error = leaks.join('; ');
    // The file fails as a whole, as a crashed one does: a failure of the file itself, so that
    // the JSON report and whoever reads it (the master) see it among the tests.
    run.tests.push({ names: [], outcome: 'fail', durationMs: 0, message: run.error });
  }
}

/** The samples of each counted run, for -v: what the process held, so a reader can judge. */
export function describeSamples(samples: HuntSample[]): string[] {
  return samples.map((s) => {
    const res = Object.entries(s.resources)
      .filter(([, n]) => n > 0)
      .map(([t, n]) => `${n} ${t}`)
      .join(', ');
    return `  ${s.run < 0 ? 'before' : `run ${s.run + 1}`}: heap ${mb(s.heapUsed)} MB, fds ${s.fds ?? '?'}, handles: ${res || 'none'}`;
  });
}
