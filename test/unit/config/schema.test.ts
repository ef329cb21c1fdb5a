import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bool, int, mapping, required, section, unsupported, Warnings } from '../../../src/node/config/schema.js';

const example = mapping(
  {
    enabled: bool('enabled', true),
    port: int('port', 53, { min: 0, max: 65535 }),
    inner: section('inner', { size: required(int('size', 0)) }, { shorthand: (value) => ({ size: value }) }),
  },
  { ignored: { old_key: unsupported('replaced by port') } },
);

function read(raw: unknown): { value: unknown; warnings: string[] } {
  const warnings = new Warnings();
  return { value: example(raw, 'example', warnings), warnings: warnings.messages };
}

describe('config schema', () => {
  it('applies the defaults of the description', () => {
    assert.deepEqual(read({ inner: { size: 1 } }).value, { enabled: true, port: 53, inner: { size: 1 } });
  });

  it('knows exactly the keys its fields read; ignored keys get their own warning', () => {
    const { warnings } = read({ port: 1, inner: { size: 2, colour: 'red' }, old_key: 1, bogus: true });
    assert.deepEqual(warnings, [
      'example.old_key: accepted but not supported (replaced by port), ignored',
      'example.bogus: unknown key, ignored',
      'example.inner.colour: unknown key, ignored',
    ]);
  });

  it('names the key in errors', () => {
    assert.throws(() => read({ port: 70000, inner: { size: 1 } }), /^UserError: config: example\.port: expected an integer between 0 and 65535, got 70000$/);
    assert.throws(() => read({ inner: {} }), /^UserError: config: example\.inner\.size: required$/);
    assert.throws(() => read({ inner: [1] }), /^UserError: config: example\.inner\.size: expected an integer, got a list$/);
    assert.throws(() => read('x'), /^UserError: config: example: expected a mapping, got "x"$/);
  });

  it('reads a shorthand value as the mapping it stands for', () => {
    assert.deepEqual(read({ inner: 7 }).value, { enabled: true, port: 53, inner: { size: 7 } });
  });
});
