// Failure fingerprints: the same failure seen by other builders, days, tools and Node versions
// groups together; different failures stay apart. Real stacks come from test/fixtures/results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseText } from '../../src/results/create-parser.js';
import type { TestCaseResult } from '../../src/results/model.js';
import { failureFingerprint, failureSignature, normaliseFailureText } from '../../src/insight/failure-fingerprint.js';
import type { FailureInput } from '../../src/insight/failure-fingerprint.js';

function fixture(path: string): TestCaseResult[] {
  return parseText(readFileSync(new URL(`../../../test/fixtures/results/${path}`, import.meta.url), 'utf8')).tests;
}

function failure(path: string, id: string): TestCaseResult {
  const found = fixture(path).find((t) => t.id === id);
  assert.ok(found, `${id} in ${path}`);
  return found;
}

function same(a: FailureInput, b: FailureInput, why: string): void {
  const fa = failureFingerprint(a);
  assert.ok(fa !== undefined, why);
  assert.equal(fa, failureFingerprint(b), `${why}\n${JSON.stringify(failureSignature(a))}\n${JSON.stringify(failureSignature(b))}`);
}

function apart(a: FailureInput, b: FailureInput, why: string): void {
  assert.notEqual(failureFingerprint(a), failureFingerprint(b), `${why}: ${JSON.stringify(failureSignature(a))}`);
}

/** The same failure as another machine prints it: its checkout elsewhere, lines moved, another address. */
function elsewhere(text: string, replacements: [string | RegExp, string][]): string {
  let out = text;
  for (const [from, to] of replacements) out = out.replaceAll(from, to);
  return out;
}

test('a fingerprint is 16 hex digits and nothing at all has none', () => {
  assert.match(failureFingerprint({ message: 'AssertionError: 1 != 2' }) ?? '', /^[0-9a-f]{16}$/);
  assert.equal(failureFingerprint({}), undefined);
  assert.equal(failureFingerprint({ message: '  ', details: '\n' }), undefined);
});

test('Python: the same traceback on Linux and Windows, other lines, addresses and temp files', () => {
  const linux = {
    message: "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmpk2j3_x9a/config.json'",
    details: [
      'Traceback (most recent call last):',
      '  File "/home/buildbot/buildarea/3.x.ubuntu/build/Lib/test/test_config.py", line 88, in test_load',
      '    cfg = config.load(self.path)',
      '  File "/home/buildbot/buildarea/3.x.ubuntu/build/Lib/config.py", line 412, in load',
      '    with open(path) as f:',
      '         ^^^^^^^^^^',
      "FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmpk2j3_x9a/config.json'",
    ].join('\n'),
  };
  const windows = {
    message: "FileNotFoundError: [Errno 2] No such file or directory: 'C:\\\\Users\\\\buildbot\\\\AppData\\\\Local\\\\Temp\\\\tmp8f_1qz\\\\config.json'",
    details: [
      'Traceback (most recent call last):',
      '  File "C:\\buildbot\\3.x.win11\\build\\Lib\\test\\test_config.py", line 91, in test_load',
      '    cfg = config.load(self.path)',
      '  File "C:\\buildbot\\3.x.win11\\build\\Lib\\config.py", line 415, in load',
      '    with open(path) as f:',
      "FileNotFoundError: [Errno 2] No such file or directory: 'C:\\\\Users\\\\buildbot\\\\AppData\\\\Local\\\\Temp\\\\tmp8f_1qz\\\\config.json'",
    ].join('\n'),
  };
  const mac = {
    ...linux,
    details: linux.details.replaceAll('/home/buildbot/buildarea/3.x.ubuntu', '/Users/buildbot/buildarea/3.x.macos')
      .replaceAll('/tmp/tmpk2j3_x9a', '/private/var/folders/qd/7v2k0x1n4zb_7q3lk0000gn/T/tmpz81'),
  };
  same(linux, windows, 'Linux and Windows');
  same(linux, mac, 'Linux and macOS');
  assert.deepEqual(failureSignature(linux), {
    type: 'FileNotFoundError',
    message: "[Errno <n>] No such file or directory: '<tmp>'",
    frames: ['config.py:load', 'test_config.py:test_load'],
  });
  // The same exception and message raised from another function is another failure.
  apart(linux, { ...linux, details: linux.details.replace('in load', 'in save') }, 'another function');
  apart(linux, { ...linux, details: linux.details.replaceAll('FileNotFoundError: [Errno 2] No such file or directory', 'PermissionError: [Errno 13] Permission denied') },
    'another exception at the same place');
});

test('Python: a chained traceback is fingerprinted by its last exception', () => {
  const chained = [
    'Traceback (most recent call last):',
    '  File "/srv/ci/Lib/test/test_net.py", line 10, in connect',
    '    sock.connect(addr)',
    'ConnectionRefusedError: [Errno 111] Connection refused',
    '',
    'During handling of the above exception, another exception occurred:',
    '',
    'Traceback (most recent call last):',
    '  File "/srv/ci/Lib/test/test_net.py", line 22, in test_fetch',
    '    self.connect()',
    '  File "/srv/ci/Lib/test/test_net.py", line 12, in connect',
    '    raise OSError(f"cannot reach 127.0.0.1:{port}") from None',
    'OSError: cannot reach 127.0.0.1:41877',
  ].join('\n');
  const sig = failureSignature({ message: 'OSError: cannot reach 127.0.0.1:41877', details: chained });
  assert.deepEqual(sig, { type: 'OSError', message: 'cannot reach <n>:<port>', frames: ['test_net.py:connect', 'test_net.py:test_fetch'] });
  same({ details: chained }, { details: chained.replaceAll('41877', '53211').replaceAll('line 22', 'line 25') }, 'another port');
  // regrtest without -v starts the traceback on its own verdict line.
  const tail = chained.slice(chained.lastIndexOf('Traceback'));
  same({ details: tail }, { details: `test test_net failed -- ${tail}` }, 'after regrtest\'s verdict');
});

test('Python: unittest, regrtest and pytest runs of the fixtures agree with themselves', () => {
  // The same failing tests run by `python -m unittest -v` and `python -m test -w`.
  same(failure('unittest/unittest-verbose.txt', 'test_mixed.MixedTests.test_fail'),
    failure('regrtest/regrtest-j2-rerun.txt', 'test_mixed.MixedTests.test_fail'), 'unittest and regrtest');
  // pytest prints the object address of `self`, which changes each run (0x7f3699bb1ed0, 0x7f19946a3fd0).
  const a = failure('pytest/pytest-verbose.txt', 'tests/test_other.py::TestGroup::test_raises');
  const b = failure('pytest/pytest-rerun-verbose.txt', 'tests/test_other.py::TestGroup::test_raises');
  assert.notEqual(a.details, b.details);
  same(a, b, 'pytest, two runs');
  assert.deepEqual(failureSignature(a), { type: 'ValueError', message: 'bad value <n>', frames: ['test_other.py:test_raises'] });
  // Different failures in one run stay apart.
  const tests = fixture('unittest/unittest-verbose.txt').filter((t) => t.outcome === 'fail' || t.outcome === 'error');
  assert.equal(new Set(tests.map((t) => failureFingerprint(t))).size, tests.length);
  const pytest = fixture('pytest/pytest-verbose.txt').filter((t) => t.outcome === 'fail' || t.outcome === 'error');
  assert.equal(new Set(pytest.map((t) => failureFingerprint(t))).size, pytest.length);
});

test('Python: a crash and a timeout dumped by faulthandler', () => {
  const crash = (addr: string, line: number) => ({
    message: 'Fatal Python error: Segmentation fault',
    details: [
      'Fatal Python error: Segmentation fault',
      '',
      `Current thread ${addr} (most recent call first):`,
      `  File "/home/bb/build/Lib/test/test_ctypes.py", line ${line} in crash_me`,
      '  File "/home/bb/build/Lib/test/test_ctypes.py", line 30 in test_crash',
      '  File "/home/bb/build/Lib/unittest/case.py", line 589 in _callTestMethod',
      '',
      `Thread 0x00007f44aa7fe640 (most recent call first):`,
      '  File "/home/bb/build/Lib/threading.py", line 331 in wait',
    ].join('\n'),
  });
  same(crash('0x00007f2b1c9a3740', 12), crash('0x00007fd0e5b0c740', 14), 'another thread address, another line');
  assert.deepEqual(failureSignature(crash('0x1', 1))?.frames, ['test_ctypes.py:crash_me', 'test_ctypes.py:test_crash']);
  // regrtest's own timeout lines.
  same(failure('regrtest/cpython-out_hang_crash_j2.txt', 'test_hang'), { message: 'Timeout (0:20:00)', details: 'Timeout (0:20:00)!' }, 'timeouts of another length');
  apart(failure('regrtest/cpython-out_hang_crash_j2.txt', 'test_hang'), failure('regrtest/cpython-out_hang_crash_j2.txt', 'test_crash'), 'a timeout is not a crash');
});

test('JavaScript: one failure under Node 20 and 24, spec, dot and TAP reporters', () => {
  for (const id of ['subtracts wrongly', 'async rejects']) {
    const prints = ['node/node20-spec.txt', 'node/node24-spec.txt', 'node/node20-dot.txt', 'node/node24-dot.txt']
      .map((f) => fixture(f).find((t) => t.id.endsWith(id)))
      .filter((t): t is TestCaseResult => t !== undefined);
    assert.equal(prints.length, 4);
    for (const p of prints) same(prints[0]!, p, `${id}: every Node and reporter`);
  }
  // Node 20 prints `TypeError [Error]: …` where Node 24 prints `TypeError: …`.
  same(failure('node/node20-spec.txt', 'parser > throws inside'), failure('node/node24-spec.txt', 'parser > throws inside'), 'TypeError [Error]');
  const spec = fixture('node/node24-spec.txt').filter((t) => t.outcome === 'fail');
  assert.equal(new Set(spec.map((t) => failureFingerprint(t))).size, spec.length, 'three failures, three fingerprints');
});

test('JavaScript: a stack from another checkout, other lines and a random port', () => {
  const stack = (root: string, port: number, line: number) => ({
    message: `Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    details: [
      `Error: connect ECONNREFUSED 127.0.0.1:${port}`,
      `    at Client.connect (file://${root}/src/client.js:${line}:11)`,
      `    at async TestContext.<anonymous> (file://${root}/test/client.test.js:${line + 40}:5)`,
      '    at async Test.run (node:internal/test_runner/test:1054:7)',
      '    at async startSubtestAfterBootstrap (node:internal/test_runner/harness:296:3)',
    ].join('\n'),
  });
  const a = stack('/home/ci/work/app', 54321, 42);
  same(a, stack('/Users/dev/src/app', 40123, 47), 'another machine');
  const windows = stack('/C:/x', 50000, 40);
  windows.details = windows.details.replaceAll('file:///C:/x/src/client.js', 'C:\\Program Files\\ci\\app\\src\\client.js')
    .replaceAll('file:///C:/x/test/client.test.js', 'C:\\Program Files\\ci\\app\\test\\client.test.js');
  assert.match(windows.details, /\(C:\\Program Files\\ci\\app\\src\\client\.js:40:11\)/);
  same(a, windows, 'Windows, a path with a space');
  assert.deepEqual(failureSignature(a), {
    type: 'Error', message: 'connect ECONNREFUSED <n>:<port>', frames: ['client.js:Client.connect', 'client.test.js:TestContext.<anonymous>'],
  });
  apart(a, { ...a, details: a.details.replaceAll('ECONNREFUSED', 'ECONNRESET'), message: a.message.replace('ECONNREFUSED', 'ECONNRESET') }, 'another error code');
  apart(a, { ...a, details: a.details.replace('Client.connect', 'Client.reconnect') }, 'another function');
});

test('JavaScript: Jest, Vitest and Mocha reports', () => {
  same(failure('jest/jest.json', '/tmp/keel-fx/js/jt/calc.test.js > calc > nested > throws'),
    failure('ctrf/ctrf-jest.json', '/tmp/keel-fx/js/jt/calc.test.js > calc nested throws'), 'Jest json and CTRF');
  // Mocha's spec reporter and its JSON report name the failure the same way.
  same(failure('mocha/mocha-spec.txt', 'calc > nested > throws'), failure('mocha/mocha.json', '/tmp/keel-fx/js/mt/calc.spec.js > calc nested throws'), 'Mocha spec and json');
  const vitest = fixture('vitest/vitest.json').filter((t) => t.outcome !== 'pass' && t.details !== undefined);
  assert.equal(new Set(vitest.map((t) => failureFingerprint(t))).size, vitest.length);
});

test('Go: one panic in two runs (other goroutine, arguments and offsets) and test errors', () => {
  const a = failure('go/go-verbose-panic.txt', 'example.com/keelfx/strs > TestPanics');
  const b = failure('go/go-json-packages.jsonl', 'example.com/keelfx/strs > TestPanics');
  assert.notEqual(a.details, b.details);
  same(a, b, 'go test -v and go test -json');
  assert.deepEqual(failureSignature(a), { type: 'panic', message: 'assignment to entry in nil map', frames: ['strs_test.go:example.com/keelfx/strs.TestPanics'] });
  const moved = elsewhere(a.details ?? '', [['goroutine 7', 'goroutine 35'], ['/tmp/keel-fx/go', '/home/builder/go/src'], [':9 +0x2e', ':11 +0x4a'], [/0x[0-9a-f]+/g, '0xc0001a2b30']]);
  same(a, { ...a, details: moved }, 'another goroutine and checkout');
  apart(failure('go/go-plain.txt', 'example.com/keelfx/calc > TestDivide'), failure('go/go-plain.txt', 'example.com/keelfx/calc > TestTable/n=2'), 'two t.Errorf in one file');
  same(failure('go/go-plain.txt', 'example.com/keelfx/calc > TestDivide'), { message: 'calc_test.go:17: Divide(8, 2) = 3, want 5', details: 'calc_test.go:17: Divide(8, 2) = 3, want 5' }, 'other values and line');
});

test('Rust: one panic under another thread id, line and RUST_BACKTRACE; two panics apart', () => {
  const a = failure('cargo/cargo.txt', 'src/lib.rs > tests::adds_wrong');
  const withBacktrace = {
    message: a.message,
    details: [
      "thread 'tests::adds_wrong' (48211) panicked at src/lib.rs:14:9:",
      'assertion `left == right` failed: two and two',
      '  left: 4',
      ' right: 5',
      'stack backtrace:',
      '   0: rust_begin_unwind',
      '             at /rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/std/src/panicking.rs:645:5',
      '   1: rs::tests::adds_wrong',
      '             at ./src/lib.rs:14:9',
    ].join('\n'),
  };
  same(a, withBacktrace, 'cargo test with a backtrace, another thread id and line');
  // Rust before 1.73 printed the message on the panic line.
  same(a, { details: "thread 'tests::adds_wrong' panicked at 'assertion `left == right` failed: two and two', src/lib.rs:11:23" }, 'the old panic format');
  apart(a, failure('cargo/cargo.txt', 'src/lib.rs > tests::unwraps_none'), 'two panics');
});

test('Java stacks from Surefire reports', () => {
  const t = failure('junit/surefire-flaky.xml', 'com.example.CalcTest.testParse');
  assert.deepEqual(failureSignature(t), {
    type: 'java.lang.NullPointerException',
    message: 'Cannot invoke "String.length()" because "s" is null',
    frames: ['Calc.java:com.example.Calc.parse', 'CalcTest.java:com.example.CalcTest.testParse'],
  });
});

test('the normalisation list', () => {
  const cases: [string, string][] = [
    ['job 3f2b8c1e-9d4a-4b7e-8f00-12ab34cd56ef not found', 'job <uuid> not found'],
    ['at 2026-11-27T03:15:06.123Z the lock was taken', 'at <time> the lock was taken'],
    ['started 2026-11-27 03:15:06+00:00', 'started <time>'],
    ['Date: Fri, 27 Nov 2026 03:15:06 GMT', 'Date: <time>'],
    ['syslog: Nov 27 03:15:06 host', 'syslog: <time> host'],
    ['timed out after 0.25s', 'timed out after <duration>'],
    ['took 1500 ms', 'took <duration>'],
    ['deadline 1m30.5s exceeded', 'deadline <duration> exceeded'],
    ['waited 12 seconds', 'waited <duration>'],
    ["open '/tmp/pytest-of-bb/pytest-12/test_x0/data.txt'", "open '<tmp>'"],
    ['cd /var/folders/qd/7v2k0x1n4zb_7q3l/T/tmpz81 failed', 'cd <tmp> failed'],
    ['C:\\Users\\bb\\AppData\\Local\\Temp\\tmp8f_1qz\\x.json missing', '<tmp> missing'],
    ['C:\\Windows\\Temp\\keel-1 missing', '<tmp> missing'],
    ['/dev/shm/sem.mp-12 leaked', '<tmp> leaked'],
    ['/home/buildbot/3.x/build/Lib/test/data/x.bin differs', 'x.bin differs'],
    ['D:\\a\\cpython\\cpython\\Lib\\test\\data\\x.bin differs', 'x.bin differs'],
    ['listen on localhost:8010 and [::1]:40123', 'listen on localhost:<port> and [::<n>]:<port>'],
    ['object at 0x7f3699bb1ed0', 'object at <hex>'],
    ['commit 9f2c1e7ab44d is bad', 'commit <hex> is bad'],
    ['process 48211 (pid=48211) exited with -11', 'process <n> (pid=<n>) exited with -<n>'],
    ['test_12345_tmp exists', 'test_<n>_tmp exists'],
    ['int64 and utf8 stay, 3.14 goes', 'int64 and utf8 stay, <n> goes'],
    ['\x1b[31mred\x1b[0m   and\t spaced', 'red and spaced'],
    ['https://example.org/a/b stays', 'https://example.org/a/b stays'],
    ['src/lib.rs stays relative', 'src/lib.rs stays relative'],
  ];
  for (const [input, expected] of cases) assert.equal(normaliseFailureText(input), expected, input);
});

test('fingerprints of every fixture failure are stable and quick', () => {
  const files = ['regrtest/regrtest-stdlib-j2-verbose.txt', 'pytest/pytest-rA.txt', 'jest/jest.json', 'go/go-json-packages.jsonl'];
  const failures = files.flatMap(fixture).filter((t) => t.outcome !== 'pass' && (t.message ?? t.details) !== undefined);
  const start = performance.now();
  for (let i = 0; i < 200; i++) for (const f of failures) failureFingerprint(f);
  assert.ok(performance.now() - start < 5000);
  for (const f of failures) assert.equal(failureFingerprint(f), failureFingerprint({ message: f.message, details: f.details }));
});

test('garbage and pathological text: no exception, bounded time', () => {
  const pathological = [
    '    at ' + 'x ('.repeat(20000), '    at f (' + 'a:1'.repeat(20000), ' ❯ ' + 'a:1 '.repeat(15000),
    'panic: x\ngoroutine 1 [running]:\n' + 'f('.repeat(20000) + ')', 'Traceback (most recent call last):\n  File "' + 'a'.repeat(60000),
    '/a'.repeat(30000), 'C:' + '\\a'.repeat(30000), '1.'.repeat(30000), 'a1'.repeat(30000), 'Error: ' + ' '.repeat(60000) + 'x',
    'a.'.repeat(30000) + 'Error: x', 'E   ' + 'a.'.repeat(30000), "thread '" + "'".repeat(30000) + ' panicked at ',
    '    at f (a.js:1:1)\n'.repeat(4000),
  ];
  for (const text of pathological) {
    for (const input of [{ details: text }, { message: text }]) {
      const start = performance.now();
      failureFingerprint(input);
      assert.ok(performance.now() - start < 1000, text.slice(0, 40));
    }
  }
  // Real stacks cut and spliced at random places.
  const stacks = ['unittest/unittest-verbose.txt', 'node/node24-spec.txt', 'go/go-verbose-panic.txt', 'cargo/cargo.txt', 'pytest/pytest-verbose.txt', 'jest/jest.json']
    .flatMap(fixture).map((t) => t.details ?? '').filter((d) => d !== '');
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % Math.max(1, n));
  for (let i = 0; i < 2000; i++) {
    const a = stacks[rand(stacks.length)]!;
    const b = stacks[rand(stacks.length)]!;
    const text = a.slice(0, rand(a.length)) + String.fromCharCode(rand(0x3000)) + b.slice(rand(b.length));
    const fp = failureFingerprint({ details: text, message: text.slice(0, rand(80)) });
    assert.ok(fp === undefined || /^[0-9a-f]{16}$/.test(fp));
  }
});
