/**
 * The terminal host: what it writes to stderr for phases, warnings and progress, redacted, with
 * colour only when asked, and who answers the restore question.
 */
import { terminal, type TerminalOptions } from '../../src/cli/terminal.js';

/** A stderr that records what is written. */
function stream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const fake = {
    isTTY,
    columns: 60,
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
  };
  return { stream: fake as unknown as NodeJS.WriteStream, text: () => text };
}

const options = (stderr: NodeJS.WriteStream, more: Partial<TerminalOptions> = {}): TerminalOptions => ({
  stderr,
  interactive: false,
  yes: false,
  verbose: false,
  color: false,
  ...more,
});

describe('terminal host', () => {
  test('phases, info and warnings are lines on stderr, redacted with the registered secrets', async () => {
    const err = stream(false);
    const { host } = terminal(options(err.stream));
    host.setSecret('hunter2-secret');
    await host.log.group('Dump and upload', () => {
      host.log.info('connected with hunter2-secret');
      host.log.warning('slow');
      return Promise.resolve();
    });
    host.debug('hidden without --verbose');
    expect(err.text()).toBe('==> Dump and upload\nconnected with ***\nwarning: slow\n');
  });

  test('on a TTY progress redraws one line (cut to the width) and a log line clears it first', () => {
    const err = stream(true);
    const { host } = terminal(options(err.stream));
    const progress = host.log.progress;
    expect(progress?.intervalMs).toBe(1000);
    progress?.update('Downloading k: 1.0 MB of 2.0 MB (50%), 1.00 MB/s (1.00 MB/s overall), ETA 1s and more text');
    progress?.update('Downloading k: 2.0 MB');
    host.log.info('done');
    progress?.done();
    expect(err.text()).toBe(
      '\r\x1b[2K' +
        'Downloading k: 1.0 MB of 2.0 MB (50%), 1.00 MB/s (1.00 MB/s o'.slice(0, 59) +
        '\r\x1b[2KDownloading k: 2.0 MB' +
        '\r\x1b[2Kdone\n',
    );
  });

  test('without a TTY there is no progress sink: the 15 s info lines are used', () => {
    expect(terminal(options(stream(false).stream)).host.log.progress).toBeUndefined();
  });

  test('colour only when asked', () => {
    const err = stream(false);
    terminal(options(err.stream, { color: true })).host.log.warning('w');
    expect(err.text()).toBe('\x1b[33mwarning: w\x1b[39m\n');
  });

  test('the restore question: --yes answers yes; a person on a TTY is asked; otherwise nobody', async () => {
    const err = stream(false).stream;
    expect(await terminal(options(err, { yes: true })).host.confirmOverwrite?.('q')).toBe(true);
    const asked: string[] = [];
    const ask = (q: string): Promise<boolean> => {
      asked.push(q);
      return Promise.resolve(false);
    };
    expect(await terminal(options(err, { interactive: true, ask })).host.confirmOverwrite?.('Restore?')).toBe(false);
    expect(asked).toEqual(['Restore?']);
    expect(terminal(options(err, { ask })).host.confirmOverwrite).toBeUndefined();
  });

  test('outputs and the failure are kept for the CLI to print', () => {
    const term = terminal(options(stream(false).stream));
    term.host.setOutputs({ 'backup-key': 'db/k' });
    term.host.setFailed('boom', 'dump');
    expect([term.outputs, term.failure()]).toEqual([{ 'backup-key': 'db/k' }, { message: 'boom', phase: 'dump' }]);
  });
});
