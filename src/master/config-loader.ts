// Finds and loads a config file: keel.config.ts/.mts (through tsx), .js/.mjs (import) or .json.
// Evaluation errors become KEEL_ERR_CONFIG_LOAD; validation is resolveConfig's job.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KeelError } from '../errors.js';
import { resolveConfig } from './config.js';
import type { ResolvedConfig } from './config.js';

const CONFIG_NAMES = ['keel.config.ts', 'keel.config.mts', 'keel.config.js', 'keel.config.mjs', 'keel.config.json'];

/** The config file to use: the one given, or the first of CONFIG_NAMES in `dir`; undefined if none. */
export function findConfigFile(dir: string, given?: string): string | undefined {
  if (given !== undefined) {
    const path = resolve(dir, given);
    if (!existsSync(path)) throw new KeelError('KEEL_ERR_CONFIG_LOAD', `config file ${path} does not exist`);
    return path;
  }
  return CONFIG_NAMES.map((n) => resolve(dir, n)).find((p) => existsSync(p));
}

/** Evaluates the file and returns its default export (or the JSON document), unvalidated. */
export async function loadConfigModule(path: string): Promise<unknown> {
  try {
    if (path.endsWith('.json')) return JSON.parse(readFileSync(path, 'utf8')) as unknown;
    let mod: Record<string, unknown>;
    if (/\.[mc]?ts$/.test(path)) {
      // tsx compiles the file (and its TypeScript imports) with esbuild, keeping its cache in the
      // temp folder; the esbuild service process lives as long as this one.
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } else {
      // A query string makes a reload (checkconfig after an edit, tests) evaluate the file anew.
      mod = (await import(`${pathToFileURL(path).href}?t=${Date.now()}`)) as Record<string, unknown>;
    }
    // tsx may wrap an ES module's exports once more under `default`.
    let config = mod['default'];
    if (config && typeof config === 'object' && 'default' in config && !('builders' in config) && !('workers' in config)) {
      config = (config as Record<string, unknown>)['default'];
    }
    if (config === undefined) throw new Error('the module has no default export');
    return config;
  } catch (err) {
    throw new KeelError('KEEL_ERR_CONFIG_LOAD', `cannot load config ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  return resolveConfig(await loadConfigModule(path), { env, source: path });
}
