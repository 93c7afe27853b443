import { formatDuration } from '../../src/format.js';
import { downloadProgressLine, formatRate, uploadProgressLine } from '../../src/pipeline/progress.js';
import { formatBytes } from '../../src/format.js';

describe('progress lines', () => {
  test('sizes and rates', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(52_400_000)).toBe('52.4 MB');
    expect(formatRate(15_000_000, 15_000)).toBe('1.00 MB/s');
    expect(formatRate(0, 0)).toBe('0.00 MB/s');
  });

  test('upload: bytes, rate since the last line and overall, parts done per store', () => {
    const line = uploadProgressLine(
      { bytes: 0, at: 0 },
      { bytes: 15_000_000, at: 15_000 },
      { bytes: 45_000_000, at: 30_000 },
      [
        { where: 's3://b/db', bytes: 41_943_040, parts: 5 },
        { where: '/backups', bytes: 0 },
      ],
    );
    expect(line).toBe(
      'Uploading: 45.0 MB of archive so far, 2.00 MB/s (1.50 MB/s overall); s3://b/db: 5 parts done (41.9 MB)',
    );
  });

  test('download: bytes of the total with the percentage and the ETA at the overall rate', () => {
    expect(
      downloadProgressLine(
        'db/x.dump',
        { bytes: 0, at: 0 },
        { bytes: 0, at: 0 },
        { bytes: 25_000_000, at: 10_000 },
        100_000_000,
      ),
    ).toBe('Downloading db/x.dump: 25.0 MB of 100.0 MB (25%), 2.50 MB/s (2.50 MB/s overall), ETA 30s');
    expect(downloadProgressLine('db/x.dump', { bytes: 0, at: 0 }, { bytes: 0, at: 0 }, { bytes: 1000, at: 1000 })).toBe(
      'Downloading db/x.dump: 1.0 kB, 0.00 MB/s (0.00 MB/s overall)',
    );
    // 10 MB of 1 GB in 10 s: 990 s left.
    expect(
      downloadProgressLine('k', { bytes: 0, at: 0 }, { bytes: 0, at: 0 }, { bytes: 10e6, at: 10_000 }, 1e9),
    ).toMatch(/, ETA 16m 30s$/);
  });

  test.each([
    [0, '0s'],
    [59, '59s'],
    [65, '1m 05s'],
    [3599, '59m 59s'],
    [7380, '2h 03m'],
  ])('formatDuration(%d) is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
