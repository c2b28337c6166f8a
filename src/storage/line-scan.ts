// Counts a piece of output's newlines and looks for carriage returns in one pass, 16 bytes a
// step in WebAssembly SIMD (line-scan.wat). A log's lines are counted as it is written (chunks
// are line-indexed): with Buffer#indexOf that was a native call per line, 13-16 ms of a worker's
// main thread per 100 MB of 100-byte lines, plus a second pass for carriage returns; copying a
// slice into the module's memory and scanning it takes 4-5 ms, whatever the lines' length.
// Where WebAssembly is unavailable (node --jitless), the same in plain JavaScript.
import { LINE_SCAN_WASM } from './line-scan-wasm.js';

/** What a piece of output holds. */
export interface LineScan {
  newlines: number;
  carriageReturn: boolean;
}

// The part of the WebAssembly API used here: TypeScript declares it only with the DOM library.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

interface LineScanExports {
  memory: { buffer: ArrayBuffer };
  cr: { value: number };
  count(offset: number, length: number): number;
}

/** The module's whole memory (line-scan.wat: 4 pages, never grown): a slice is copied to it. */
const SLICE_BYTES = 4 * 64 * 1024;
const NL = 10;
const CR = 13;

let scanner: { exports: LineScanExports; memory: Uint8Array } | null | undefined;

function loadScanner(): typeof scanner {
  if (scanner !== undefined) return scanner;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(LINE_SCAN_WASM, 'base64')));
    const exports = instance.exports as unknown as LineScanExports;
    scanner = { exports, memory: new Uint8Array(exports.memory.buffer, 0, SLICE_BYTES) };
  } catch {
    scanner = null;
  }
  return scanner;
}

export function scanLines(bytes: Uint8Array): LineScan {
  const s = loadScanner();
  if (!s) return scanLinesInJs(bytes);
  s.exports.cr.value = 0;
  let newlines = 0;
  for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
    const slice = bytes.subarray(at, at + SLICE_BYTES);
    s.memory.set(slice);
    newlines += s.exports.count(0, slice.length);
  }
  return { newlines, carriageReturn: s.exports.cr.value === 1 };
}

/** The same, a native search per line: where WebAssembly is not available, and to test against. */
export function scanLinesInJs(bytes: Uint8Array): LineScan {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let newlines = 0;
  for (let i = b.indexOf(NL); i >= 0; i = b.indexOf(NL, i + 1)) newlines++;
  return { newlines, carriageReturn: b.includes(CR) };
}
