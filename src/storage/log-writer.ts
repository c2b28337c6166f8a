// Turns a stream of output text (arbitrary pieces, tagged by stream) into whole lines and writes
// them as compressed chunks. One writer per log; it holds at most one chunk of lines in memory.
import { CHUNK_TARGET_BYTES, encodeLogChunk } from './log-chunks.js';
import type { LogStream, Storage } from './storage.js';

export class LogWriter {
  private lines: { stream: LogStream; text: string }[] = [];
  private bufferedBytes = 0;
  private nextLine: number;
  /** The unfinished last line of each stream: stdout and stderr interleave by whole lines. */
  private partial: Record<LogStream, string> = { o: '', e: '', h: '' };
  private writing: Promise<void> = Promise.resolve();
  private delayTimer: NodeJS.Timeout | undefined;
  /** Longest a whole line waits in memory before it is written, so live readers see it. */
  maxDelayMs = 200;

  /**
   * `onLine` sees every whole line as it is formed: the seam for line-based observers (build
   * properties from output now, test-result parsers later) that must not hold the log.
   */
  constructor(private readonly storage: Storage, readonly logId: number, firstLine = 0, private readonly onLine?: (stream: LogStream, text: string) => void) {
    this.nextLine = firstLine;
  }

  get linesWritten(): number {
    return this.nextLine + this.lines.length;
  }

  /**
   * Adds output. Resolves once any chunk this filled is in the database, so a caller that awaits
   * it (before asking the worker for more) keeps memory bounded.
   */
  append(stream: LogStream, text: string): Promise<void> {
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl >= 0 && this.partial[stream]) {
      this.push(stream, this.partial[stream] + text.slice(0, nl));
      this.partial[stream] = '';
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl >= 0) {
      this.push(stream, text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) this.partial[stream] += text.slice(start);
    if (this.bufferedBytes >= CHUNK_TARGET_BYTES) return this.flush();
    if (this.lines.length > 0 && !this.delayTimer) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        // A failed write surfaces at the next append, flush or finish, which await `writing`.
        void this.flush().catch(() => {});
      }, this.maxDelayMs);
    }
    return this.writing;
  }

  /** Writes the whole lines held so far. */
  flush(): Promise<void> {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    if (this.lines.length > 0) {
      const chunk = encodeLogChunk(this.nextLine, this.lines);
      this.nextLine += this.lines.length;
      this.lines = [];
      this.bufferedBytes = 0;
      this.writing = this.writing.then(() => this.storage.appendLogChunk(this.logId, chunk));
    }
    return this.writing;
  }

  /** Ends the unfinished lines, writes everything and marks the log finished. */
  async finish(): Promise<void> {
    for (const stream of ['o', 'e', 'h'] as const) {
      if (this.partial[stream]) this.push(stream, this.partial[stream]);
      this.partial[stream] = '';
    }
    await this.flush();
    await this.storage.finishLog(this.logId);
  }

  private push(stream: LogStream, text: string): void {
    // A carriage return ends progress-bar lines; keep the text, drop the trailing \r.
    const clean = text.endsWith('\r') ? text.slice(0, -1) : text;
    this.lines.push({ stream, text: clean });
    this.onLine?.(stream, clean);
    this.bufferedBytes += clean.length + 2;
  }
}
