// Small formatting helpers shared by the progress lines and the summary, in regrtest's style.
import { loadavg } from 'node:os';

/** 0.28 → "280 ms", 3.21 → "3.2 sec", 92 → "1 min 32 sec", 3720 → "1 hour 2 min". */
export function formatDuration(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} sec`;
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const parts: string[] = [];
  if (hours) parts.push(`${hours} hour${hours > 1 ? 's' : ''}`);
  if (minutes) parts.push(`${minutes} min`);
  if (secs && !hours) parts.push(`${secs} sec`);
  return parts.join(' ');
}

/** Elapsed time as H:MM:SS, the first column of every progress line. */
export function formatElapsed(seconds: number): string {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function progressPrefix(startedAt: number): string {
  const elapsed = formatElapsed((performance.now() - startedAt) / 1000);
  const load = loadavg()[0];
  // os.loadavg() is [0, 0, 0] on Windows, where it means nothing.
  return load !== undefined && process.platform !== 'win32' ? `${elapsed} load avg: ${load.toFixed(2)}` : elapsed;
}

export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}

/** Names in lines of at most `width` columns, indented by four spaces, as regrtest lists them. */
export function wrapNames(names: readonly string[], width = 76): string {
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    if (line && line.length + 1 + name.length > width - 4) {
      lines.push(line);
      line = name;
    } else line = line ? `${line} ${name}` : name;
  }
  if (line) lines.push(line);
  return lines.map((l) => `    ${l}`).join('\n');
}
