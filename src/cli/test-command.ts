// `keel test`: the regression test runner, modelled on CPython's `python -m test`.
import { type Command, Option } from 'commander';
import { KeelError } from '../errors.js';
import { collect, collectList, integer } from './option-parsers.js';
import { parseHuntSpec } from '../runner/hunt-leaks.js';
import { runTests } from '../runner/run-tests.js';

function positiveSeconds(value: string) {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new KeelError('KEEL_ERR_USAGE', `--timeout expects a number of seconds > 0, got ${JSON.stringify(value)}`);
  return n;
}

interface TestCommandOptions {
  testdir: string;
  jobs?: number;
  timeout?: number;
  rerun: boolean;
  failRerun: boolean;
  failEnvChanged: boolean;
  randomize: boolean;
  randseed?: number;
  match: string[];
  ignore: string[];
  matchfile?: string;
  exclude: boolean;
  fromfile?: string;
  use: string[];
  shard?: string;
  verbose: boolean;
  quiet: boolean;
  slowest: number;
  forever: boolean;
  junitXml?: string;
  json?: string;
  import: string[];
  require: string[];
  nodeOption: string[];
  runningNotice?: number;
  huntLeaks?: string;
}

export function registerTestCommand(program: Command): void {
  program
    .command('test')
    .description('run test files, each in its own process, and summarise as CPython\'s regrtest does')
    .argument('[tests...]', 'test names (paths under the test directory, without extension) or folders')
    .option('--testdir <dir>', 'directory holding the test files', 'test')
    .option('-j, --jobs <n>', 'run files in N worker processes (0 = one per CPU)', integer('-j', 0))
    .option('--timeout <seconds>', 'kill a test file after this long, dumping its stack first', positiveSeconds)
    .option('-w, --rerun', 're-run failed test files, only their failed tests, verbosely', false)
    .option('--fail-rerun', 'a test that failed then passed still fails the run (exit code 5)', false)
    .option('--fail-env-changed', 'a file that altered its environment fails the run (exit code 3)', false)
    .option('-r, --randomize', 'run the files in random order (the seed is printed)', false)
    .option('--randseed <n>', 'seed for the random order; implies -r', integer('--randseed', 0))
    .option('-m, --match <glob>', 'run only the tests whose name matches (repeatable)', collect, [])
    .option('-i, --ignore <glob>', 'skip the tests whose name matches (repeatable)', collect, [])
    .option('--matchfile <file>', 'read -m globs from a file, one per line')
    .option('-x, --exclude', 'run all test files except those named', false)
    .option('-f, --fromfile <file>', 'read test names from a file, one per line')
    .option('-u, --use <resources>', 'enable resources: all, network,cpu, all,-cpu (repeatable)', collectList, [])
    .option('--shard <k/n>', 'run the K-th of N deterministic slices of the test files')
    .option('-v, --verbose', 'show every test and all output', false)
    .option('-q, --quiet', 'print only failures and the summary', false)
    .option('-o, --slowest <n>', 'how many of the slowest test files to list (0: none)', integer('--slowest', 0), 10)
    .option('-R, --hunt-leaks <W:R>', 'run each file\'s tests W warm-up + R counted times in one process; report growing heap, handles, fds')
    .option('-F, --forever', 'run the files again and again until one fails', false)
    .option('--junit-xml <file>', 'write the results as JUnit XML')
    .option('--json <file>', 'write the results as Keel JSON (docs/json-report.md)')
    .option('--import <module>', 'preload a module in each test process, e.g. tsx for TypeScript (repeatable)', collect, [])
    .option('--require <module>', 'preload a CommonJS module in each test process (repeatable)', collect, [])
    .option('--node-option <flag>', 'pass a flag to node in each test process (repeatable)', collect, [])
    .addOption(new Option('--running-notice <seconds>').argParser(integer('--running-notice', 1)).hideHelp())
    .action(async (tests: string[], o: TestCommandOptions) => {
      const huntLeaks = o.huntLeaks !== undefined ? parseHuntSpec(o.huntLeaks) : undefined;
      if (o.rerun && o.forever) throw new KeelError('KEEL_ERR_USAGE', '--forever and --rerun cannot be combined: --forever stops at the first failure');
      const nodeArgs = [
        ...o.nodeOption,
        ...o.require.flatMap((m) => ['--require', m]),
        ...o.import.flatMap((m) => ['--import', m]),
      ];
      // Ctrl-C, or a CI job cancelled with SIGTERM: kill the test processes (they run in process
      // groups of their own, out of reach of the terminal's and the job's signals), summarise,
      // exit 130. A second signal exits at once.
      const controller = new AbortController();
      const onSignal = (signal: NodeJS.Signals) => {
        if (controller.signal.aborted) process.exit(130);
        controller.abort(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const result = await runTests({
          cwd: process.cwd(),
          testDir: o.testdir,
          tests,
          exclude: o.exclude,
          ...(o.fromfile !== undefined ? { fromFile: o.fromfile } : {}),
          jobs: o.jobs ?? null,
          timeoutSec: o.timeout ?? null,
          rerun: o.rerun,
          failRerun: o.failRerun,
          failEnvChanged: o.failEnvChanged,
          randomize: o.randomize || o.randseed !== undefined,
          ...(o.randseed !== undefined ? { seed: o.randseed } : {}),
          match: o.match,
          ignore: o.ignore,
          ...(o.matchfile !== undefined ? { matchFile: o.matchfile } : {}),
          resources: o.use,
          ...(o.shard !== undefined ? { shard: o.shard } : {}),
          verbose: o.verbose,
          quiet: o.quiet,
          slowest: o.slowest,
          forever: o.forever,
          ...(o.junitXml !== undefined ? { junitXml: o.junitXml } : {}),
          ...(o.json !== undefined ? { json: o.json } : {}),
          nodeArgs,
          ...(huntLeaks ? { huntLeaks } : {}),
          write: (text) => process.stdout.write(text),
          ...(process.stdout.isTTY && !process.env.CI ? { liveStatusColumns: () => process.stdout.columns || 80 } : {}),
          signal: controller.signal,
          ...(o.runningNotice !== undefined ? { runningNoticeSec: o.runningNotice } : {}),
        });
        process.exitCode = result.exitCode;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
