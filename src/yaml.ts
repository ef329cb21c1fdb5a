/**
 * YAML as mesh reads and writes it: configs, `mesh ca serve --config`, the enrollment service's
 * template and the config it hands to `mesh join`.
 *
 * js-yaml with YAML 1.2's core schema plus merge keys (`<<: *anchor`), which Nebula's configs use
 * (Go's yaml.v2 merges them). A node parses its config on every start and reload: js-yaml does it
 * several times faster than the `yaml` package, cold and warm (a 3 KB config: ~1 ms against ~5 ms
 * warm, measured on this project's machine).
 */
import { CORE_SCHEMA, dump, loadAll, mergeTag } from 'js-yaml';

const schema = CORE_SCHEMA.withTags(mergeTag);

/**
 * The one document in `text`; null for an empty one (nothing, comments only, a bare `---`). Throws
 * on a syntax error, a duplicated key or more than one document; the message's first line says
 * what and where (line:column).
 */
export function parseYaml(text: string): unknown {
  const documents = loadAll(text, { schema });
  if (documents.length > 1) throw new Error(`${documents.length} YAML documents where one is expected`);
  return documents[0] ?? null;
}

/** `value` as a YAML document: block style, shared objects written out again (no anchors). */
export function stringifyYaml(value: unknown): string {
  return dump(value, { noRefs: true });
}
