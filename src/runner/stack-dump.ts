// Where a hung test process is stuck, read through the V8 inspector: SIGUSR1 opens it (even in
// a busy loop, the signal is handled off the main thread), then a pause gives the JavaScript
// stack. A process idle in its event loop has no stack to show; for it we name what the loop
// waits on instead.

const INSPECTOR_URL = /Debugger listening on (ws:\/\/\S+)\r?\n/;

export function findInspectorUrl(stderr: string): string | undefined {
  return INSPECTOR_URL.exec(stderr)?.[1];
}

interface CallFrame {
  functionName: string;
  url: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

/** Frames in the shape of an Error's stack; `urls` names scripts the frames leave unnamed. */
export function formatCallFrames(frames: readonly CallFrame[], urls: ReadonlyMap<string, string> = new Map()): string {
  return frames
    .map((f) => {
      const url = f.url || urls.get(f.location.scriptId) || '<unknown>';
      return `    at ${f.functionName || '<anonymous>'} (${url}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`;
    })
    .join('\n');
}

/** Lines Node prints on stderr when the inspector opens and closes: ours, not the test's. */
export const INSPECTOR_NOISE = /^(Debugger listening on ws:.*|For help, see: https:\/\/nodejs\.org\/.*inspector.*|Debugger attached\.|Debugger ending on ws:.*|Waiting for the debugger to disconnect\.\.\.)\r?\n/gm;

/**
 * Dumps the stack of process `pid`; `inspectorUrl()` gives the address its inspector announced
 * on stderr, once it has.
 * Never throws: whatever goes wrong is said in the returned text, since the process is about
 * to be killed anyway.
 */
export async function dumpStacks(pid: number, inspectorUrl: () => string | undefined, budgetMs = 4000): Promise<string> {
  const deadline = Date.now() + budgetMs;
  try {
    process.kill(pid, 'SIGUSR1');
  } catch (err) {
    return `(no stack dump: ${(err as Error).message})`;
  }
  let url: string | undefined;
  while (Date.now() < deadline && !url) {
    url = inspectorUrl();
    if (!url) await new Promise((r) => setTimeout(r, 20));
  }
  if (!url) return '(no stack dump: the inspector did not open in time)';
  // Loaded here, not at the top: only a timed-out file needs it.
  const { default: WebSocket } = await import('ws');
  return await new Promise<string>((resolve) => {
    const ws = new WebSocket(url);
    let nextId = 1;
    const scripts = new Map<string, string>();
    const pending = new Map<number, (result: unknown) => void>();
    const call = (method: string, params: object = {}) =>
      new Promise<unknown>((res) => {
        const id = nextId++;
        pending.set(id, res);
        ws.send(JSON.stringify({ id, method, params }));
      });
    let settled = false;
    const done = (text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(text);
    };
    const timer = setTimeout(() => done('(no stack dump: the inspector did not answer in time)'), Math.max(200, deadline - Date.now()));
    let pauseTimer: NodeJS.Timeout | undefined;
    ws.on('error', (err) => done(`(no stack dump: ${err.message})`));
    ws.on('message', (raw) => {
      let msg: { id?: number; method?: string; result?: unknown; params?: { callFrames?: CallFrame[]; scriptId?: string; url?: string } };
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        return;
      }
      if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
      if (msg.method === 'Debugger.scriptParsed' && msg.params?.scriptId && msg.params.url) scripts.set(msg.params.scriptId, msg.params.url);
      if (msg.method === 'Debugger.paused') {
        clearTimeout(pauseTimer);
        done(`JavaScript stack of the main thread (most recent call first):\n${formatCallFrames(msg.params?.callFrames ?? [], scripts)}`);
      }
    });
    ws.on('open', async () => {
      await call('Debugger.enable');
      await call('Debugger.pause');
      // A pause lands only when JavaScript runs; an idle loop never gets there.
      pauseTimer = setTimeout(async () => {
        await call('Debugger.disable');
        const result = (await call('Runtime.evaluate', {
          expression: 'JSON.stringify(process.getActiveResourcesInfo())',
          returnByValue: true,
        })) as { result?: { value?: string } } | undefined;
        let waitingOn = 'nothing it can name';
        try {
          const types = JSON.parse(result?.result?.value ?? '[]') as string[];
          const counts = new Map<string, number>();
          for (const t of types) counts.set(t, (counts.get(t) ?? 0) + 1);
          if (counts.size) waitingOn = [...counts].map(([t, n]) => `${n} ${t}`).join(', ');
        } catch {
          // keep the default wording
        }
        done(`No JavaScript was running: the event loop is idle, waiting on ${waitingOn}.`);
      }, 800);
    });
  });
}
