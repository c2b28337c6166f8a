// Assembles src/storage/line-scan.wat into src/storage/line-scan-wasm.ts (`npm run wasm:line-scan`).
// The module ships as base64 in a TypeScript file, so nothing at run time reads or compiles WAT;
// test/storage/line-scan.test.ts checks the committed file against the source.
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

const root = fileURLToPath(new URL('..', import.meta.url));
export const WAT_PATH = join(root, 'src/storage/line-scan.wat');
export const TS_PATH = join(root, 'src/storage/line-scan-wasm.ts');

/** The text line-scan-wasm.ts must hold for the .wat as it is now. */
export async function lineScanModuleSource() {
  const wabt = await initWabt();
  const module = wabt.parseWat('line-scan.wat', readFileSync(WAT_PATH, 'utf8'), { simd: true });
  try {
    const { buffer } = module.toBinary({});
    return [
      '// Generated from line-scan.wat by `npm run wasm:line-scan`: edit the .wat, then regenerate.',
      `export const LINE_SCAN_WASM = '${Buffer.from(buffer).toString('base64')}';`,
      '',
    ].join('\n');
  } finally {
    module.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(TS_PATH, await lineScanModuleSource());
