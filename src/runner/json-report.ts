// `keel test --json FILE`: the run as one JSON document (docs/json-report.md), the form the
// master ingests. Written atomically so a reader never sees half a report.
import { renameSync, writeFileSync } from 'node:fs';
import type { RunReport } from './run-report.js';

export function writeJsonReport(file: string, report: RunReport): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(report, null, 2) + '\n');
  renameSync(tmp, file);
}
