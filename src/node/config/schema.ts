/**
 * Config sections described once. A section is a mapping of fields; each field names its Nebula key
 * and how the value is read (kind, default, range). From that one description come the keys the
 * section knows (any other key becomes a warning), the defaults, and the parsed TypeScript type:
 *
 *   const stunSection = section('stun', {
 *     alternatePort: int('alternate_port', 0, { min: 0, max: 65535 }),
 *     interval: seconds('interval', 60),
 *   });                          // Field<{ alternatePort: number; interval: number }>
 *
 * Values are read by ./values.ts, strictly (a bad value is a UserError naming the key).
 */
import {
  configError,
  type IntRange,
  isAbsent,
  isMapping,
  keyError,
  type RawMap,
  readBool,
  readChoice,
  readDuration,
  readInt,
  readMappingList,
  readSeconds,
  readText,
  readTextList,
} from './values.js';

/** Collects the warnings of one config read, at most one per key. */
export class Warnings {
  readonly messages: string[] = [];
  private readonly keys = new Set<string>();

  add(path: string, text: string): void {
    if (this.keys.has(path)) return;
    this.keys.add(path);
    this.messages.push(`${path}: ${text}`);
  }
}

/** Reads one value; `path` is its full key for messages, e.g. "tun.routes[0].mtu". */
export type Reader<T> = (value: unknown, path: string, warnings: Warnings) => T;

/** One key of a section and how its value is read. */
export interface Field<T> {
  readonly key: string;
  readonly read: Reader<T>;
}

type Fields = Record<string, Field<unknown>>;

/** What a field reads to, e.g. the parsed type of a section. */
export type FieldValue<F> = F extends Field<infer T> ? T : never;

/** The parsed value of a mapping: one property per field. */
export type Values<F extends Fields> = { -readonly [K in keyof F]: FieldValue<F[K]> };

export interface MappingOptions<F extends Fields, T> {
  /** Keys mesh accepts without reading them, with the warning each gets (see laterNebula, unsupported). */
  ignored?: Record<string, string>;
  /** The warning for any other key that is not a field. */
  unknownKey?: string;
  /** Nebula's one-value form of the section ("punchy: true"), as the mapping it stands for. */
  shorthand?: (value: unknown, path: string) => RawMap;
  /** Checks across fields, warnings and renames, after every field is read. */
  finish?: (values: Values<F>, warnings: Warnings, raw: RawMap, path: string) => T;
}

/** The warning for a key that only later Nebula versions read. */
export function laterNebula(version: string): string {
  return `only exists in nebula ${version}+, ignored (mesh follows nebula 1.6)`;
}

/** The warning for a Nebula 1.6 key mesh does not act on. */
export function unsupported(reason: string): string {
  return `accepted but not supported (${reason}), ignored`;
}

/** Reads a mapping described by `fields` (absent is an empty mapping). */
export function mapping<F extends Fields, T = Values<F>>(fields: F, options: MappingOptions<F, T> = {}): Reader<NoInfer<T>> {
  const { ignored = {}, unknownKey = 'unknown key, ignored', shorthand, finish } = options;
  const known = new Set(Object.values(fields).map((f) => f.key));
  return (value, path, warnings) => {
    let raw: RawMap;
    if (isAbsent(value)) raw = {};
    else if (isMapping(value)) raw = value;
    else if (shorthand) raw = shorthand(value, path);
    else throw configError(path, 'a mapping', value);
    for (const key of Object.keys(raw)) {
      if (!known.has(key)) warnings.add(join(path, key), ignored[key] ?? unknownKey);
    }
    const values: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(fields)) values[name] = field.read(raw[field.key], join(path, field.key), warnings);
    return finish ? finish(values as Values<F>, warnings, raw, path) : (values as T);
  };
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

// ---------------------------------------------------------------------------------------------
// Field kinds
// ---------------------------------------------------------------------------------------------

/** A field read by `read`: for values no kind below covers. */
export function field<T>(key: string, read: Reader<T>): Field<T> {
  return { key, read };
}

/** A nested section: the field at `key` is a mapping described by `fields`. */
export function section<F extends Fields, T = Values<F>>(key: string, fields: F, options: MappingOptions<F, T> = {}): Field<NoInfer<T>> {
  return field(key, mapping(fields, options));
}

/** null when the key is absent; otherwise read by `inner`. */
export function optional<T>(inner: Field<T>): Field<T | null> {
  return field(inner.key, (value, path, warnings) => (isAbsent(value) ? null : inner.read(value, path, warnings)));
}

/** "config: key: required" when the key is absent. */
export function required<T>(inner: Field<T>): Field<T> {
  return field(inner.key, (value, path, warnings) => {
    if (isAbsent(value)) throw keyError(path, 'required');
    return inner.read(value, path, warnings);
  });
}

export function bool(key: string, def = false): Field<boolean> {
  return field(key, (value, path) => readBool(value, path, def));
}

export function int(key: string, def: number, range: IntRange = {}): Field<number> {
  return field(key, (value, path) => readInt(value, path, def, range));
}

export function text(key: string, def: string): Field<string> {
  return field(key, (value, path) => readText(value, path, def));
}

export function oneOf<T extends string>(key: string, def: NoInfer<T>, choices: readonly T[]): Field<NoInfer<T>> {
  return field(key, (value, path) => readChoice(value, path, def, choices));
}

interface DurationOptions {
  /** 0 is an error ("expected a duration greater than 0"). */
  positive?: boolean;
}

/** A Go duration ("100ms", "12m"), in milliseconds. */
export function duration(key: string, defMs: number, options: DurationOptions = {}): Field<number> {
  return field(key, (value, path, warnings) =>
    checkPositive(readDuration(value, path, defMs, (note) => warnings.add(path, note)), value, path, options),
  );
}

/** Whole seconds (or a Go duration), in milliseconds. */
export function seconds(key: string, defSeconds: number, options: DurationOptions = {}): Field<number> {
  return field(key, (value, path) => checkPositive(readSeconds(value, path, defSeconds), value, path, options));
}

function checkPositive(ms: number, value: unknown, path: string, { positive = false }: DurationOptions): number {
  if (positive && ms <= 0) throw configError(path, 'a duration greater than 0', value);
  return ms;
}

/** A list of scalars, each read by `item` (after all are checked to be scalars); `single`: one scalar is a list of one. */
export function list<T>(key: string, item: (text: string, path: string) => T, { single = false } = {}): Field<T[]> {
  return field(key, (value, path) => readTextList(value, path, single).map((text, i) => item(text, `${path}[${i}]`)));
}

/** A list of mappings (after all are checked to be mappings), each read by `item`. */
export function mappingList<T>(key: string, item: Reader<T>): Field<T[]> {
  return field(key, (value, path, warnings) => readMappingList(value, path).map(([raw, itemPath]) => item(raw, itemPath, warnings)));
}
