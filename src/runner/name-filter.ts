// Selecting tests inside files by name: -m/-i globs, --matchfile, and the exact names of a
// re-run. Node >= 22 matches --test-name-pattern against a test's name prefixed with its
// ancestors' names; node 20 only against the name itself, so there -m/-i run every test and
// drop the results not selected (they cannot stop a test from running there, only from counting).
import { KeelError } from '../errors.js';
import { NAME_SEPARATOR } from '../results/model.js';

const NATIVE_FULL_NAMES = Number(process.versions.node.split('.')[0]) >= 22;

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** fnmatch-style glob (`*`, `?`, `[abc]`) as an anchored regular expression source. */
export function globToRegExpSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) out += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        out += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else out += escapeRegExp(c);
  }
  return `^${out}$`;
}

function compile(source: string, option: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new KeelError('KEEL_ERR_BAD_PATTERN', `bad pattern for ${option}: ${(err as Error).message}`, { cause: err });
  }
}

/** The strings a pattern is tried on: each name on its own and every ancestor-prefixed name. */
function candidates(names: readonly string[]): string[] {
  const out: string[] = [...names];
  for (let i = 1; i < names.length; i++) {
    out.push(names.slice(0, i + 1).join(' '));
    out.push(names.slice(0, i + 1).join(NAME_SEPARATOR));
  }
  return out;
}

export interface NameFilter {
  /** For node's --test-name-pattern (any may match). */
  namePatterns: string[];
  /** For node's --test-skip-pattern. */
  skipPatterns: string[];
  /** The exact rule, applied to every result the process sends. */
  selects(names: readonly string[]): boolean;
}

export interface FilterSpec {
  match: string[];
  ignore: string[];
}

export function buildNameFilter(spec: FilterSpec): NameFilter {
  const match = spec.match.map((g) => compile(globToRegExpSource(g), '-m'));
  const ignore = spec.ignore.map((g) => compile(globToRegExpSource(g), '-i'));
  const hit = (res: RegExp[], names: readonly string[]) => {
    // A test is selected when it or one of its ancestors matches.
    for (let depth = 1; depth <= names.length; depth++) {
      const prefix = names.slice(0, depth);
      if (candidates(prefix).some((c) => res.some((re) => re.test(c)))) return true;
    }
    return false;
  };
  // Node >= 22 joins a test's ancestors' names with spaces; node 20 matches single names only,
  // so there every test runs and the results are filtered here.
  const native = NATIVE_FULL_NAMES ? spec.match.map((g) => globToRegExpSource(g.split(NAME_SEPARATOR).join(' '))) : [];
  const nativeSkip = NATIVE_FULL_NAMES ? spec.ignore.map((g) => globToRegExpSource(g.split(NAME_SEPARATOR).join(' '))) : [];
  return {
    namePatterns: native,
    skipPatterns: nativeSkip,
    selects: (names) => (match.length === 0 || hit(match, names)) && !hit(ignore, names),
  };
}

/**
 * A filter that runs exactly the tests named (each a list of name parts): used by re-runs.
 * `suites` lists the describe() suites among their ancestors (joined names), which node 20
 * always enters: naming one there would run everything in it.
 */
export function exactNameFilter(tests: readonly (readonly string[])[], suites: ReadonlySet<string> = new Set()): NameFilter {
  const wanted = new Set(tests.map((t) => t.join(NAME_SEPARATOR)));
  const patterns = new Set<string>();
  for (const names of tests) {
    if (NATIVE_FULL_NAMES) {
      patterns.add(`^${escapeRegExp(names.join(' '))}$`);
      continue;
    }
    // Node 20 matches one name at a time and skips the subtests of a test() that does not
    // match: the test itself and its test() ancestors must match.
    names.forEach((n, i) => {
      const isSuite = i < names.length - 1 && suites.has(names.slice(0, i + 1).join(NAME_SEPARATOR));
      if (!isSuite) patterns.add(`^${escapeRegExp(n)}$`);
    });
  }
  return {
    namePatterns: [...patterns],
    skipPatterns: [],
    selects: (names) => {
      for (let depth = 1; depth <= names.length; depth++) {
        if (wanted.has(names.slice(0, depth).join(NAME_SEPARATOR))) return true;
      }
      return false;
    },
  };
}

export const NO_FILTER: NameFilter = { namePatterns: [], skipPatterns: [], selects: () => true };
