// The newline scanner: the WebAssembly module against the plain JavaScript count on inputs of
// every awkward size, the committed module against its source, and the fallback without it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/runner/discover.js';
import { scanLines, scanLinesInJs } from '../../src/storage/line-scan.js';
import { repoRoot } from '../helpers/keel-cli.js';

/** `length` bytes, each a newline, a carriage return or a letter with the given odds. */
function randomBytes(random: () => number, length: number, newlineOdds: number, crOdds: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    const r = random();
    b[i] = r < newlineOdds ? 10 : r < newlineOdds + crOdds ? 13 : 97 + Math.floor(r * 26) % 26;
  }
  return b;
}

describe('scanLines', () => {
  it('counts what the JavaScript count counts, at every size, offset and density', () => {
    const random = seededRandom(11);
    // Around the module's 16-byte steps, its 255-step blocks (4,080 bytes) and 256 KB slices.
    const sizes = [0, 1, 15, 16, 17, 31, 4079, 4080, 4081, 8161, 65_536, 262_143, 262_144, 262_145, 600_001];
    for (const size of sizes) {
      for (const [nl, cr] of [[0, 0], [0.01, 0], [1, 0], [0.5, 0.0001], [0.3, 0.3]] as const) {
        const bytes = randomBytes(random, size + 7, nl, cr);
        // A view that starts at an odd offset of its buffer, as pipe reads and frames do.
        const view = bytes.subarray(7);
        assert.deepEqual(scanLines(view), scanLinesInJs(view), `size ${size}, newline odds ${nl}, cr odds ${cr}`);
      }
    }
    // Every byte a newline: each of the 16 lanes counts 255 per block, the most it can hold.
    assert.deepEqual(scanLines(Buffer.alloc(300_000, 10)), { newlines: 300_000, carriageReturn: false });
    assert.deepEqual(scanLines(Buffer.from('one\r\ntwo\n')), { newlines: 2, carriageReturn: true });
    // A carriage return seen by one call is not reported by the next.
    assert.deepEqual(scanLines(Buffer.from('three\n')), { newlines: 1, carriageReturn: false });
  });

  it('is the module assembled from line-scan.wat (regenerate with npm run wasm:line-scan)', async () => {
    const generator = await import(pathToFileURL(path.join(repoRoot, 'scripts/assemble-wasm.mjs')).href) as { lineScanModuleSource(): Promise<string> };
    assert.equal(readFileSync(path.join(repoRoot, 'src/storage/line-scan-wasm.ts'), 'utf8'), await generator.lineScanModuleSource());
  });

  it('counts in JavaScript where WebAssembly is not available', () => {
    // As under --jitless; V8's flags for it differ between Node versions, so the global goes.
    const url = pathToFileURL(path.join(repoRoot, 'build/src/storage/line-scan.js')).href;
    const script = `delete globalThis.WebAssembly; import(${JSON.stringify(url)}).then((m) => console.log(typeof WebAssembly, JSON.stringify(m.scanLines(Buffer.from('a\\r\\nb\\n\\nc')))))`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), 'undefined {"newlines":3,"carriageReturn":true}');
  });
});
