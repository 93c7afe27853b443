import { failureSummary } from '../../src/report/failure-summary.js';

describe('failureSummary', () => {
  const time = new Date('2026-12-07T03:00:00Z');

  test('command, database, phase, newest good backup, the error and the phase checklist', () => {
    const text = failureSummary(
      {
        command: 'backup',
        database: 'shop',
        phase: 'upload',
        error: 'AccessDenied | for `x`',
        lastSuccess: {
          key: 'prod/shop/2026-12-06T030000Z.dump',
          time: new Date('2026-12-06T03:00:00Z'),
          url: 's3://b/prod',
        },
        time,
      },
      [],
    );
    expect(text).toContain('## ❌ Backup failed: shop');
    expect(text).toContain('| Command | `backup` |');
    expect(text).toContain('| Database | `shop` |');
    expect(text).toContain('| Failed phase | **upload** |');
    expect(text).toContain(
      '| Newest good backup | `prod/shop/2026-12-06T030000Z.dump` in s3://b/prod, 24 hours before this failure |',
    );
    expect(text).toContain('```text\nAccessDenied | for `x`\n```');
    expect(text).toContain('### What to check (phase: upload)');
    expect(text).toContain('- Storage credentials and permissions');
    expect(text).not.toContain('the run linked above');
  });

  test('unknown database and newest backup', () => {
    const text = failureSummary({ command: 'check', database: '', phase: 'config', error: 'bad', time }, []);
    expect(text).toContain('## ❌ Check failed\n');
    expect(text).toContain('| Database | (unknown) |');
    expect(text).toContain('| Newest good backup | unknown |');
  });

  test('every secret is redacted, in the error and anywhere else', () => {
    const secret = 'S3cret-Pw-9f';
    const text = failureSummary(
      {
        command: 'backup',
        database: 'shop',
        phase: 'connect',
        error: `could not connect with ${secret} and ${encodeURIComponent(secret)}`,
        time,
      },
      [secret],
    );
    expect(text).not.toContain(secret);
    expect(text).toContain('could not connect with *** and ***');
  });
});
