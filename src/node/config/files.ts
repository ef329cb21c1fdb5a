/**
 * Reading the YAML behind a config: one file, or every *.yml / *.yaml in a directory (recursively,
 * lexical order) deep-merged the way Nebula does it: maps merge key by key, lists are concatenated
 * (so firewall rules can be split across files), and for scalars the later file wins.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { describeFsError, UserError } from '../../errors.js';
import { parseYaml } from '../../yaml.js';
import { isAbsent, isMapping, kindOf } from './values.js';

export interface ConfigDocument {
  /** The merged YAML document (what Nebula calls Settings); {} when the files are empty. */
  raw: unknown;
  /** File path, or "dir (a.yml, b.yml)". */
  source: string;
}

/** Reads a config file, or every *.yml/*.yaml under a directory (lexical order, deep-merged). */
export function readConfigDocument(pathOrDir: string): ConfigDocument {
  const path = resolve(pathOrDir);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new UserError(`config file ${pathOrDir}: ${fsErrorText(err)}`);
  }
  const files = isDir ? collectYamlFiles(path) : [path];
  if (files.length === 0) throw new UserError(`config directory ${pathOrDir}: no *.yml or *.yaml files found`);
  let merged: unknown = null;
  for (const file of files) merged = mergeConfig(merged, readYamlFile(file));
  const source = isDir ? `${path} (${files.map((f) => f.slice(path.length + 1)).join(', ')})` : path;
  return { raw: merged ?? {}, source };
}

/** The path may name a file or a directory, so a missing one is said as the OS says it. */
function fsErrorText(err: unknown): string {
  return describeFsError(err, 'no such file or directory');
}

function collectYamlFiles(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new UserError(`config directory ${dir}: ${fsErrorText(err)}`);
  }
  for (const name of names) {
    const full = join(dir, name);
    let st;
    try {
      st = statSync(full);
    } catch {
      continue; // dangling symlink: Nebula ignores it as well
    }
    if (st.isDirectory()) out.push(...collectYamlFiles(full));
    else if (extname(name) === '.yml' || extname(name) === '.yaml') out.push(full);
  }
  return out.sort();
}

function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`config file ${file}: ${fsErrorText(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UserError(`config file ${file}: invalid YAML: ${msg}`);
  }
  if (isAbsent(doc)) return null;
  if (!isMapping(doc)) throw new UserError(`config file ${file}: expected a YAML mapping at the top level, got ${kindOf(doc)}`);
  return doc;
}

/**
 * Nebula's merge (mergo.Merge with WithAppendSlice): maps merge recursively, lists are
 * concatenated, other values: the later file wins unless it is null/absent.
 */
export function mergeConfig(earlier: unknown, later: unknown): unknown {
  if (isAbsent(later)) return earlier;
  if (isAbsent(earlier)) return later;
  if (isMapping(earlier) && isMapping(later)) {
    const out: Record<string, unknown> = { ...earlier };
    for (const [k, v] of Object.entries(later)) out[k] = k in out ? mergeConfig(out[k], v) : v;
    return out;
  }
  if (Array.isArray(earlier) && Array.isArray(later)) return [...earlier, ...later];
  return later;
}
