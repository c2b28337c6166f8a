// On a terminal, one status line at the bottom that says which files are running now, redrawn in
// place; the plain progress lines scroll above it. Never used in CI logs (no TTY, or CI set).

const CLEAR_LINE = '\r\x1b[K';

export class LiveStatus {
  private line = '';

  constructor(
    private readonly raw: (text: string) => void,
    private readonly columns: () => number,
  ) {}

  /** Writes text above the status line, which is redrawn once the text ends a line. */
  readonly write = (text: string): void => {
    if (this.line) this.raw(CLEAR_LINE);
    this.raw(text);
    if (this.line && text.endsWith('\n')) this.raw(this.line);
  };

  show(line: string): void {
    const width = Math.max(20, this.columns() - 1);
    this.line = line.length > width ? line.slice(0, width - 1) + '…' : line;
    this.raw(CLEAR_LINE + this.line);
  }

  clear(): void {
    if (!this.line) return;
    this.line = '';
    this.raw(CLEAR_LINE);
  }
}
