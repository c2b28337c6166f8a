// A ChangeSink held in memory: for a master without storage wiring yet, and for tests. It keeps
// ids, so the schedulers can be fed RecordedChange values straight from it.
import { KeelError } from '../../errors.js';
import type { Change, RecordedChange } from './change.js';
import type { ChangeSink } from './git-poller.js';

export interface MemoryChangeSink extends ChangeSink {
  /** Every change recorded so far, oldest first. */
  readonly changes: RecordedChange[];
}

/** `onRecord` sees each stored change, in order (the master feeds them to the schedulers). */
export function memoryChangeSink(onRecord?: (change: RecordedChange) => void): MemoryChangeSink {
  const tips = new Map<string, Record<string, string>>();
  const changes: RecordedChange[] = [];
  return {
    changes,
    async lastRevisions(repository) {
      const known = tips.get(repository);
      return known ? { ...known } : undefined;
    },
    async record(repository: string, added: Change[], revisions: Record<string, string>, previous: Record<string, string> | undefined) {
      if (JSON.stringify(tips.get(repository)) !== JSON.stringify(previous)) {
        throw new KeelError('KEEL_ERR_CONFLICT', `the tips of ${repository} moved since this poll began`);
      }
      const base = changes.length;
      const stored = added.map((change, i) => ({ ...change, id: base + i + 1 }));
      changes.push(...stored);
      tips.set(repository, { ...revisions });
      for (const change of stored) onRecord?.(change);
    },
  };
}
