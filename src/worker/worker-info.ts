// What a worker tells the master about itself in its handshake (shown by GET /workers).
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, platform, release } from 'node:os';
import type { WorkerInfo } from '../protocol/messages.js';

export function collectWorkerInfo(): WorkerInfo {
  let keel = 'unknown';
  try {
    keel = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    // Running from an unusual layout; the version is informative only.
  }
  return { hostname: hostname(), os: `${platform()} ${release()}`, arch: arch(), node: process.version, cpus: cpus().length, keel };
}
