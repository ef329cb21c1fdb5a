/**
 * The text log format (src/log.ts): the lines Nebula's logrus TextFormatter writes, one per entry.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, textLine } from '../../../src/log.js';

/** A logger of `format` whose lines are collected. */
async function collecting(format: 'text' | 'json', level: 'info' | 'debug' = 'info'): Promise<{ log: Awaited<ReturnType<typeof createLogger>>; lines: string[] }> {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { log: await createLogger({ format, level, destination }), lines };
}

test('text lines: time, level, msg, then the fields in order, each entry on one line', async () => {
  const { log, lines } = await collecting('text', 'debug');
  log.info({ peer: '10.42.0.2', port: 4242, initiator: true }, 'tunnel up');
  log.warn({ reason: 'bad "quote"\nand a second line', remotes: ['192.0.2.1:4242', '192.0.2.2:4242'] }, 'handshake failed');
  log.debug({ nothing: null, empty: '' }, 'odd values');
  log.error({ err: new Error('no such device') }, 'cannot open the TUN');
  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, /^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z" level=info msg="tunnel up" peer=10\.42\.0\.2 port=4242 initiator=true$/);
  assert.match(lines[1]!, / level=warning msg="handshake failed" reason="bad \\"quote\\"\\nand a second line" remotes="\[\\"192\.0\.2\.1:4242\\",\\"192\.0\.2\.2:4242\\"\]"$/);
  assert.match(lines[2]!, / level=debug msg="odd values" nothing=<nil> empty=""$/);
  assert.match(lines[3]!, / level=error msg="cannot open the TUN" error="no such device"$/);
});

test('text lines of every level carry logrus names; a line that is not JSON passes through', () => {
  const names = [10, 20, 30, 40, 50, 60].map((level) => / level=(\w+)/.exec(textLine(JSON.stringify({ level, time: 0, msg: 'x' })))![1]);
  assert.deepEqual(names, ['trace', 'debug', 'info', 'warning', 'error', 'fatal']);
  assert.equal(textLine(JSON.stringify({ level: 30, time: 0, msg: 'x' })), 'time="1970-01-01T00:00:00Z" level=info msg=x\n');
  assert.equal(textLine('not json\n'), 'not json\n');
});

test('without timestamps (logging.disable_timestamp) a line starts at its level, in both formats', async () => {
  for (const format of ['text', 'json'] as const) {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    (await createLogger({ format, destination, timestamp: false })).info('hello');
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /\btime\b/);
    if (format === 'text') assert.equal(lines[0], 'level=info msg=hello\n');
  }
});

test('json lines stay pino JSON', async () => {
  const { log, lines } = await collecting('json');
  log.info({ peer: '10.42.0.2' }, 'tunnel up');
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry.level, 30);
  assert.equal(entry.msg, 'tunnel up');
  assert.equal(entry.peer, '10.42.0.2');
  assert.equal(entry.pid, undefined);
});
