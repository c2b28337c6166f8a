// Turns a stream of output text (arbitrary pieces, tagged by stream) into whole lines and writes
// them as compressed chunks. One writer per log; it holds at most about one chunk in memory.
// Text is handled a piece at a time with string operations, not line by line, because a 100 MB
// log is a million lines and per-line work is what made logs slow; the text is stored as printed.
import { addRun, CHUNK_TARGET_BYTES, encodeLogChunk } from './log-chunks.js';
import type { LogStream, Storage } from './storage.js';

const STREAMS: readonly LogStream[] = ['o', 'e', 'h'];

export class LogWriter {
  /** Text of whole lines not yet written, each ending in "\n", and their streams. */
  private pieces: string[] = [];
  private runs: [LogStream, number][] = [];
  private pendingLines = 0;
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
   * properties from output now, test-result parsers later) that must not hold the log. Without
   * one, lines are never split apart.
   */
  constructor(private readonly storage: Storage, readonly logId: number, firstLine = 0, private readonly onLine?: (stream: LogStream, text: string) => void) {
    this.nextLine = firstLine;
  }

  get linesWritten(): number {
    return this.nextLine + this.pendingLines;
  }

  /**
   * Adds output. Resolves once the chunks written so far are in the database, so a caller that
   * awaits it (before asking the worker for more) keeps memory bounded.
   */
  append(stream: LogStream, text: string): Promise<void> {
    const lastNl = text.lastIndexOf('\n');
    if (lastNl < 0) {
      this.partial[stream] += text;
      return this.writing;
    }
    // A carriage return before a newline ends Windows and progress-bar lines; drop it.
    let body = this.partial[stream] + text.slice(0, lastNl);
    this.partial[stream] = text.slice(lastNl + 1);
    if (body.includes('\r')) body = body.replace(/\r+(?=\n|$)/g, '');
    this.addLines(stream, body);
    if (this.bufferedBytes >= CHUNK_TARGET_BYTES) return this.flush();
    if (!this.delayTimer) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        // A failed write surfaces at the next append, flush or finish, which return `writing`.
        void this.flush().catch(() => {});
      }, this.maxDelayMs);
    }
    return this.writing;
  }

  /** `body` is one or more whole lines joined by "\n", without the last newline. */
  private addLines(stream: LogStream, body: string): void {
    let count = 1;
    for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) count++;
    if (this.onLine) for (const line of body.split('\n')) this.onLine(stream, line);
    this.pieces.push(body, '\n');
    addRun(this.runs, stream, count);
    this.pendingLines += count;
    this.bufferedBytes += body.length + 1;
  }

  /** Writes the whole lines held so far. */
  flush(): Promise<void> {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    if (this.pendingLines > 0) {
      // Compression starts now, on the thread pool; the database write waits for the one before.
      const chunk = encodeLogChunk(this.nextLine, this.pendingLines, this.pieces.join(''), this.runs);
      this.nextLine += this.pendingLines;
      this.pieces = [];
      this.runs = [];
      this.pendingLines = 0;
      this.bufferedBytes = 0;
      this.writing = Promise.all([this.writing, chunk]).then(([, c]) => this.storage.appendLogChunk(this.logId, c));
    }
    return this.writing;
  }

  /** Ends the unfinished lines, writes everything and marks the log finished. */
  async finish(): Promise<void> {
    for (const stream of STREAMS) {
      if (this.partial[stream]) this.addLines(stream, this.partial[stream].replace(/\r+$/, ''));
      this.partial[stream] = '';
    }
    await this.flush();
    await this.storage.finishLog(this.logId);
  }
}
