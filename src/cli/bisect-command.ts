// `keel bisect`: the smallest subset of some test files' tests that still fails when they run
// together in one process (CPython's test.bisect_cmd).
import type { Command } from 'commander';
import { collect, collectList, integer } from './option-parsers.js';
import { runBisect } from '../runner/bisect.js';

interface BisectCommandOptions {
  testdir: string;
  maxIterations: number;
  maxTests: number;
  output?: string;
  randseed?: number;
  match: string[];
  ignore: string[];
  matchfile?: string;
  use: string[];
  timeout?: number;
  import: string[];
  require: string[];
  nodeOption: string[];
}

export function registerBisectCommand(program: Command): void {
  program
    .command('bisect')
    .description('find the smallest subset of the tests of some files that still fails when they run together in one process')
    .argument('<tests...>', 'test files (names under the test directory) whose tests fail together')
    .option('--testdir <dir>', 'directory holding the test files', 'test')
    .option('-n, --max-iterations <n>', 'run at most N subsets', integer('-n', 1), 100)
    .option('--max-tests <n>', 'stop once the subset has N tests or fewer', integer('--max-tests', 1), 1)
    .option('-o, --output <file>', 'write the final tests into FILE, for keel test --matchfile FILE')
    .option('--randseed <n>', 'seed for the random halves', integer('--randseed', 0))
    .option('-m, --match <glob>', 'bisect only the tests whose name matches (repeatable)', collect, [])
    .option('-i, --ignore <glob>', 'leave out the tests whose name matches (repeatable)', collect, [])
    .option('--matchfile <file>', 'read -m globs from a file, one per line')
    .option('-u, --use <resources>', 'enable resources: all, network,cpu, all,-cpu (repeatable)', collectList, [])
    .option('--timeout <seconds>', 'kill a run after this long (it counts as failing)', integer('--timeout', 1))
    .option('--import <module>', 'preload a module in the test process (repeatable)', collect, [])
    .option('--require <module>', 'preload a CommonJS module in the test process (repeatable)', collect, [])
    .option('--node-option <flag>', 'pass a flag to node in the test process (repeatable)', collect, [])
    .action(async (tests: string[], o: BisectCommandOptions) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.on('SIGINT', onSigint);
      try {
        const result = await runBisect({
          cwd: process.cwd(),
          testDir: o.testdir,
          tests,
          match: o.match,
          ignore: o.ignore,
          ...(o.matchfile !== undefined ? { matchFile: o.matchfile } : {}),
          resources: o.use,
          nodeArgs: [...o.nodeOption, ...o.require.flatMap((m) => ['--require', m]), ...o.import.flatMap((m) => ['--import', m])],
          timeoutSec: o.timeout ?? null,
          maxIterations: o.maxIterations,
          maxTests: o.maxTests,
          ...(o.output !== undefined ? { output: o.output } : {}),
          ...(o.randseed !== undefined ? { seed: o.randseed } : {}),
          write: (text) => process.stdout.write(text),
          signal: controller.signal,
        });
        process.exitCode = result.exitCode;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
