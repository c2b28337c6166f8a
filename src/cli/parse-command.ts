// `keel parse`: shows what Keel understands of a test log or report, so anyone can check a log
// of theirs in one command. The format is detected from the content unless --format names it.
import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { countOutcomes, type TestCaseResult } from '../results/model.js';
import { createParser } from '../results/create-parser.js';
import { ChunkFeeder } from '../results/chunk-feeder.js';
import { RESULT_FORMATS, type ParseResult, type ResultFormat } from '../results/result-parser.js';

type FormatOption = ResultFormat | 'auto';
const FORMAT_CHOICES: readonly FormatOption[] = ['auto', ...RESULT_FORMATS];

function formatOption(value: string): FormatOption {
  if (!(FORMAT_CHOICES as readonly string[]).includes(value)) {
    throw new KeelError('KEEL_ERR_USAGE', `--format expects one of ${FORMAT_CHOICES.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as FormatOption;
}

/** Streams a file (or stdin for `-`) through the parser line by line, as a build log arrives. */
async function parseFile(file: string, format: FormatOption): Promise<ParseResult> {
  if (file !== '-') {
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new KeelError('KEEL_ERR_PARSE_INPUT', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unknown error')}`, { cause: err });
    }
    if (!isFile) throw new KeelError('KEEL_ERR_PARSE_INPUT', `cannot read ${file}: not a file`);
  }
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  input.setEncoding('utf8');
  let empty = true;
  const feeder = new ChunkFeeder(createParser(format));
  try {
    for await (const chunk of input as AsyncIterable<string>) {
      if (empty && chunk.trim() !== '') empty = false;
      feeder.write(chunk);
    }
  } catch (err) {
    throw new KeelError('KEEL_ERR_PARSE_INPUT', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (empty) throw new KeelError('KEEL_ERR_PARSE_INPUT', `${file === '-' ? 'standard input' : file} is empty`);
  return feeder.finish();
}

/**
 * Writes the `--json` document (DESIGN.md, `keel parse`): one test a line, written in pieces so
 * that a log of a million tests never needs one string of all of them.
 */
function writeJsonDocument(format: string, tests: TestCaseResult[]): void {
  const out = process.stdout;
  out.write(`{\n  "format": ${JSON.stringify(format)},\n  "summary": ${JSON.stringify(countOutcomes(tests))},\n  "tests": [`);
  const CHUNK = 1000;
  for (let i = 0; i < tests.length; i += CHUNK) {
    const lines = tests.slice(i, i + CHUNK).map((t) => `\n    ${JSON.stringify(t)}`);
    out.write((i === 0 ? '' : ',') + lines.join(','));
  }
  out.write(tests.length > 0 ? '\n  ]\n}\n' : ']\n}\n');
}

const LABEL: Record<string, string> = { fail: 'FAIL', error: 'ERROR', flaky: 'FLAKY' };

function humanReport(file: string, result: ParseResult): string {
  const c = countOutcomes(result.tests);
  const parts = (['pass', 'fail', 'error', 'skip', 'xfail', 'flaky'] as const).filter((k) => c[k] > 0).map((k) => `${c[k]} ${k}`);
  const out = [`${file}: ${result.format}, ${c.total} test${c.total === 1 ? '' : 's'}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`];
  if (result.toolSummary !== undefined) out.push(`  the tool said: ${result.toolSummary}`);
  if (c.total === 0) out.push(`  no test outcome found in it${result.format === 'unknown' ? '' : ` as ${result.format}`}`);
  for (const t of result.tests) {
    const label = LABEL[t.outcome];
    if (label === undefined) continue;
    const attempt = t.outcome === 'flaky' ? ` (passed on attempt ${t.attempt})` : t.attempt > 1 ? ` (attempt ${t.attempt})` : '';
    out.push(`  ${label.padEnd(5)} ${t.id}${attempt}`);
    if (t.message !== undefined) out.push(`        ${t.message.split('\n')[0]!.slice(0, 300)}`);
  }
  return out.join('\n') + '\n';
}

export function registerParseCommand(program: Command): void {
  program
    .command('parse')
    .description('show the test outcomes Keel reads in a log or report (regrtest, pytest, JUnit XML, TAP, Jest, go test, …)')
    .argument('<files...>', 'log or report files; - reads standard input')
    .option('--format <format>', `the file's format: ${FORMAT_CHOICES.join('|')}`, formatOption, 'auto' as FormatOption)
    .option('--json', 'print every outcome as one JSON document', false)
    .action(async (files: string[], opts: { format: FormatOption; json: boolean }) => {
      // `keel parse big.log | head` closes the pipe early; that is the reader's choice, not an error.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      const results: [string, ParseResult][] = [];
      for (const file of files) results.push([file, await parseFile(file, opts.format)]);
      const unknown = results.filter(([, r]) => r.format === 'unknown').map(([f]) => f);
      if (unknown.length > 0) {
        throw new KeelError('KEEL_ERR_PARSE_FORMAT', `cannot tell the format of ${unknown.join(', ')}: no line of it looks like a known test tool's output; name the format with --format`);
      }
      if (opts.json) {
        const formats = [...new Set(results.map(([, r]) => r.format))];
        writeJsonDocument(formats.length === 1 ? formats[0]! : 'mixed', results.flatMap(([, r]) => r.tests));
        return;
      }
      for (const [file, r] of results) process.stdout.write(humanReport(file, r));
    });
}
