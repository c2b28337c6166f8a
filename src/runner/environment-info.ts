// `keel info`: the environment a build or a test run happened in, as CPython's test.pythoninfo
// collects it, so that a failure on one worker can be explained by what differs on it. Workers
// send it to the master when they connect; this module imports nothing of the rest of the runner.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Flat `key: value` pairs; keys are dotted (`node.v8`, `env.TZ`, `deps.commander`). */
export type EnvironmentInfo = Record<string, string>;

export interface CollectOptions {
  /** Where to look for the project (package.json and its lockfile): this folder or a parent. */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** How long each tool may take to print its version. */
  toolTimeoutMs?: number;
}

/**
 * Environment variables that change how Node.js, npm, test frameworks or locale-dependent code
 * behave. Variables whose names start with one of ENV_PREFIXES are shown too.
 */
const ENV_NAMES = [
  'CI', 'TZ', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE', 'LC_MESSAGES', 'LC_NUMERIC', 'LC_TIME',
  'HOME', 'PATH', 'SHELL', 'TERM', 'TMPDIR', 'TEMP', 'TMP', 'USER', 'PWD',
  'FORCE_COLOR', 'NO_COLOR', 'COLUMNS', 'DEBUG', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy',
  'SSL_CERT_FILE', 'SSL_CERT_DIR', 'OPENSSL_CONF', 'GITHUB_ACTIONS', 'GITLAB_CI', 'BUILDKITE', 'JENKINS_URL', 'TRAVIS',
];
const ENV_PREFIXES = ['NODE_', 'UV_', 'KEEL_', 'npm_config_', 'NPM_CONFIG_', 'V8_', 'COREPACK_'];
/** Names that say the value is a secret: the value is never shown. */
const SECRET_NAME = /SECRET|TOKEN|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|COOKIE|SESSION/i;

/** A variable's value as it may be shown: secrets by name, and passwords inside URLs, hidden. */
export function redactEnvValue(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return '<redacted>';
  // user:password@ in a URL (a proxy, a registry) is a secret too.
  return value.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, '$1<redacted>@');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The first line a command prints for its version, or why there is none. */
function toolVersion(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    // Asking a version leaves nothing behind: npm 10+ on Node 22+ otherwise starts a compile
    // cache in $TMPDIR (which keel test reports as a leaked temporary file).
    execFile(command, args, { env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' }, timeout: timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
      const text = `${stdout}`.trim() || `${stderr}`.trim();
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') resolve('not found');
      else if (err && !text) resolve(`failed: ${oneLine(err.message).slice(0, 200)}`);
      else resolve(text.split('\n')[0]!.trim());
    });
  });
}

/** Tools a build commonly shells out to; git, cc, python3 and npm are always listed. */
const TOOLS: [key: string, command: string, args: string[]][] = [
  ['git', 'git', ['--version']],
  ['cc', 'cc', ['--version']],
  ['python3', 'python3', ['--version']],
  ['npm', 'npm', ['--version']],
  ['make', 'make', ['--version']],
  ['pnpm', 'pnpm', ['--version']],
  ['yarn', 'yarn', ['--version']],
];
const OPTIONAL_TOOLS = new Set(['make', 'pnpm', 'yarn']);

/** /proc/self/limits as `ulimit.<name>: soft hard [unit]`, on Linux. */
function ulimits(): EnvironmentInfo {
  const info: EnvironmentInfo = {};
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    info['ulimit'] = 'unknown (no /proc/self/limits)';
    return info;
  }
  for (const line of text.split('\n').slice(1)) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)\s*(\S*)\s*$/.exec(line);
    if (!m) continue;
    const name = m[1]!.replace(/^Max /, '').replace(/ /g, '_');
    info[`ulimit.${name}`] = `soft=${m[2]} hard=${m[3]}${m[4] ? ` ${m[4]}` : ''}`;
  }
  return info;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

interface PackageJson {
  name?: string;
  version?: string;
  packageManager?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The nearest folder at or above `cwd` with a package.json. */
function findProject(cwd: string): string | null {
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Resolved versions of the direct dependencies from package-lock.json (v1–v3). */
function fromNpmLock(lock: unknown, names: string[]): Map<string, string> {
  const found = new Map<string, string>();
  const l = lock as { packages?: Record<string, { version?: string }>; dependencies?: Record<string, { version?: string }> };
  for (const name of names) {
    const v = l.packages?.[`node_modules/${name}`]?.version ?? l.dependencies?.[name]?.version;
    if (v) found.set(name, v);
  }
  return found;
}

/** yarn.lock (classic and berry): blocks headed by `name@range` entries, with a version line. */
function fromYarnLock(text: string, deps: Record<string, string>): Map<string, string> {
  const found = new Map<string, string>();
  for (const block of text.split(/\n(?=\S)/)) {
    const header = block.split('\n')[0]!.replace(/:$/, '');
    const version = /^\s+version:? "?([^"\s]+)"?/m.exec(block)?.[1];
    if (!version) continue;
    for (const entry of header.split(',').map((e) => e.trim().replace(/^"|"$/g, ''))) {
      // `name@range`; a scoped name starts with @, and a range may hold one (`npm:other@^2`).
      const at = entry.indexOf('@', 1);
      if (at <= 0) continue;
      const name = entry.slice(0, at);
      const range = entry.slice(at + 1);
      // Berry writes `name@npm:^1.0.0` for a plain `^1.0.0`.
      if (deps[name] !== undefined && (deps[name] === range || `npm:${deps[name]}` === range)) found.set(name, version);
    }
  }
  return found;
}

/** `project.*` and `deps.<name>`: the project and its direct dependencies' resolved versions. */
function projectInfo(cwd: string): EnvironmentInfo {
  const info: EnvironmentInfo = {};
  const root = findProject(cwd);
  if (!root) {
    info['project.root'] = 'none (no package.json here or above)';
    info['project.lockfile'] = 'none';
    return info;
  }
  const pkg = (readJson(path.join(root, 'package.json')) ?? {}) as PackageJson;
  info['project.root'] = root;
  info['project.name'] = pkg.name ?? '(unnamed)';
  info['project.version'] = pkg.version ?? '(none)';
  if (pkg.packageManager) info['project.packageManager'] = pkg.packageManager;
  const deps: Record<string, string> = { ...pkg.optionalDependencies, ...pkg.devDependencies, ...pkg.dependencies };
  const names = Object.keys(deps).sort();

  let found = new Map<string, string>();
  let source = 'none';
  for (const lockName of ['package-lock.json', 'npm-shrinkwrap.json']) {
    const lock = readJson(path.join(root, lockName));
    if (lock) {
      found = fromNpmLock(lock, names);
      source = lockName;
      break;
    }
  }
  if (source === 'none' && existsSync(path.join(root, 'yarn.lock'))) {
    found = fromYarnLock(readFileSync(path.join(root, 'yarn.lock'), 'utf8'), deps);
    source = 'yarn.lock';
  }
  if (source === 'none' && existsSync(path.join(root, 'pnpm-lock.yaml'))) source = 'pnpm-lock.yaml (read through node_modules)';
  info['project.lockfile'] = source;
  for (const name of names) {
    let version = found.get(name);
    if (!version) {
      // Not in a lockfile Keel reads: what is installed says what runs.
      const installed = readJson(path.join(root, 'node_modules', name, 'package.json')) as { version?: string } | undefined;
      version = installed?.version ? `${installed.version} (installed; not in the lockfile)` : `not installed (wants ${deps[name]})`;
    }
    info[`deps.${name}`] = version;
  }
  return info;
}

function osRelease(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function localeInfo(env: NodeJS.ProcessEnv): EnvironmentInfo {
  const resolved = Intl.DateTimeFormat().resolvedOptions();
  const lc = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  const now = new Date();
  const offset = -now.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return {
    'locale.intl': resolved.locale,
    'locale.posix': lc || '(unset: the C locale)',
    'locale.charset': /\.([^@]+)/.exec(lc)?.[1] ?? (lc ? 'unknown' : 'ANSI_X3.4-1968 (C locale)'),
    'locale.timeZone': resolved.timeZone ?? 'unknown',
    'locale.utcOffset': `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`,
    'locale.numberFormat': (1234567.891).toLocaleString(),
    'locale.dateFormat': new Date(Date.UTC(2001, 1, 3, 4, 5, 6)).toLocaleString(),
    'time.now': now.toISOString(),
    'encoding.default': 'utf8 (Node.js strings and Buffer default)',
    'encoding.stdout': process.stdout.isTTY ? 'tty' : 'not a tty',
  };
}

function nodeInfo(): EnvironmentInfo {
  const info: EnvironmentInfo = {};
  const v = process.versions as Record<string, string | undefined>;
  info['node.version'] = process.version;
  const keel = readJson(fileURLToPath(new URL('../../../package.json', import.meta.url))) as { version?: string } | undefined;
  info['keel.version'] = keel?.version ?? 'unknown';
  info['node.execPath'] = process.execPath;
  info['node.execArgv'] = process.execArgv.join(' ') || '(none)';
  info['node.release'] = process.release.lts ? `${process.release.name} LTS ${process.release.lts}` : process.release.name;
  for (const [key, name] of [
    ['v8', 'v8'], ['uv', 'libuv'], ['icu', 'icu'], ['unicode', 'unicode'], ['openssl', 'openssl'], ['zlib', 'zlib'],
    ['modules', 'modules'], ['napi', 'napi'], ['ares', 'ares'], ['nghttp2', 'nghttp2'], ['llhttp', 'llhttp'], ['undici', 'undici'], ['cldr', 'cldr'], ['tz', 'tzdata'],
  ] as const) {
    info[`node.${name}`] = v[key] ?? 'unknown';
  }
  const features = process.features as unknown as Record<string, unknown>;
  for (const name of Object.keys(features).sort()) {
    const value = features[name];
    if (typeof value === 'boolean' || typeof value === 'string' || typeof value === 'number') info[`node.features.${name}`] = String(value);
  }
  const config = process.config as unknown as { variables?: Record<string, unknown>; target_defaults?: { default_configuration?: string } };
  info['node.build'] = config.target_defaults?.default_configuration ?? 'unknown';
  for (const [name, value] of Object.entries(config.variables ?? {})) {
    // Scalars only: the lists (bundled library files) say nothing about behaviour.
    if (typeof value === 'boolean' || typeof value === 'string' || typeof value === 'number') info[`node.config.${name}`] = String(value);
  }
  const report = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  info['os.libc'] = report?.glibcVersionRuntime ? `glibc ${report.glibcVersionRuntime}` : 'unknown';
  return info;
}

function machineInfo(): EnvironmentInfo {
  const cpus = os.cpus();
  const gb = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  const info: EnvironmentInfo = {
    'os.platform': process.platform,
    'os.arch': process.arch,
    'os.type': os.type(),
    'os.kernel': os.release(),
    'os.version': os.version(),
    'os.machine': os.machine(),
    'os.distribution': osRelease(),
    'os.hostname': os.hostname(),
    'os.endianness': os.endianness(),
    'os.uptime': `${Math.round(os.uptime())} s`,
    'cpu.model': cpus[0]?.model.trim() ?? 'unknown',
    'cpu.count': String(cpus.length),
    'cpu.availableParallelism': String(os.availableParallelism()),
    'memory.total': gb(os.totalmem()),
    'memory.free': gb(os.freemem()),
    'load.average': os.loadavg().map((l) => l.toFixed(2)).join(' '),
    'process.cwd': process.cwd(),
    'process.umask': `0o${process.umask().toString(8).padStart(3, '0')}`,
  };
  if (typeof process.getuid === 'function') info['process.uid'] = String(process.getuid());
  if (typeof process.getgid === 'function') info['process.gid'] = String(process.getgid());
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  // cgroup memory limits: a container's limit, not the machine's memory, is what tests get.
  if (constrained && constrained < Number.MAX_SAFE_INTEGER) info['memory.constrained'] = gb(constrained);
  return info;
}

function envInfo(env: NodeJS.ProcessEnv): EnvironmentInfo {
  const info: EnvironmentInfo = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (ENV_NAMES.includes(name) || ENV_PREFIXES.some((p) => name.startsWith(p))) info[`env.${name}`] = redactEnvValue(name, value);
  }
  return info;
}

/** Sorted by key, so two workers' outputs can be compared with diff. */
function sorted(info: EnvironmentInfo): EnvironmentInfo {
  return Object.fromEntries(Object.entries(info).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export async function collectEnvironmentInfo(opts: CollectOptions): Promise<EnvironmentInfo> {
  const env = opts.env ?? process.env;
  const timeout = opts.toolTimeoutMs ?? 5000;
  const tools = await Promise.all(TOOLS.map(async ([key, command, args]) => [key, await toolVersion(command, args, env, timeout)] as const));
  const info: EnvironmentInfo = {
    ...nodeInfo(),
    ...machineInfo(),
    ...localeInfo(env),
    ...envInfo(env),
    ...ulimits(),
    ...projectInfo(opts.cwd),
  };
  for (const [key, version] of tools) {
    if (version === 'not found' && OPTIONAL_TOOLS.has(key)) continue;
    info[`tool.${key}`] = version;
  }
  return sorted(info);
}

/** `key: value` lines, as test.pythoninfo prints them. */
export function formatEnvironmentInfo(info: EnvironmentInfo): string {
  return Object.entries(info)
    .map(([key, value]) => `${key}: ${oneLine(value)}\n`)
    .join('');
}
