// Turns a log that arrives in chunks (as a worker streams it) into the whole lines a parser
// takes, keeping stdout and stderr apart as Buildbot's LineConsumerLogObserver does: a line
// half-written on one stream is not completed by the other.

import type { LineParser, LogStream, ParseResult } from './result-parser.js';

/** Longest partial line kept; past it the text is handed over as a line of its own. */
const MAX_PARTIAL = 1 << 20;

export class ChunkFeeder {
  private readonly partial: Record<LogStream, string> = { stdout: '', stderr: '' };

  constructor(private readonly parser: LineParser) {}

  /** Feeds every complete line of `chunk`; the rest waits for the stream's next chunk. */
  write(chunk: string, stream: LogStream = 'stdout'): void {
    const text = this.partial[stream] + chunk;
    let from = 0;
    for (let end = text.indexOf('\n', from); end !== -1; end = text.indexOf('\n', from)) {
      this.parser.feedLine(text.slice(from, end), stream);
      from = end + 1;
    }
    let rest = text.slice(from);
    if (rest.length > MAX_PARTIAL) {
      this.parser.feedLine(rest, stream);
      rest = '';
    }
    this.partial[stream] = rest;
  }

  /** Feeds what is left of each stream (a last line without its newline) and finishes. */
  finish(): ParseResult {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream] !== '') this.parser.feedLine(this.partial[stream], stream);
      this.partial[stream] = '';
    }
    return this.parser.finish();
  }
}
