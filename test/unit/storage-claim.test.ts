import { claimObjectKey, parseClaimKey } from '../../src/storage/claim.js';
import { parseArchiveKey } from '../../src/storage/keys.js';

describe('claim object keys', () => {
  const archive = 'prod/shop/2026-12-07T010203Z-daily.dump.zst';

  test('a claim key names its archive, its time to the millisecond and its run', () => {
    const key = claimObjectKey(archive, new Date('2026-12-07T01:02:03.456Z'), '0123456789ab');
    expect(key).toBe(`${archive}.claim-20261207T010203456Z-0123456789ab`);
    expect(parseClaimKey(key)).toEqual({
      archiveKey: archive,
      time: new Date('2026-12-07T01:02:03.456Z'),
      runId: '0123456789ab',
    });
  });

  test('claims sort by time (key order), and are never taken for archives', () => {
    const earlier = claimObjectKey(archive, new Date('2026-12-07T01:02:03.456Z'), 'ffffffffffff');
    const later = claimObjectKey(archive, new Date('2026-12-07T01:02:03.457Z'), '000000000000');
    expect(earlier < later).toBe(true);
    expect(parseArchiveKey(earlier, 'prod')).toBeUndefined();
  });

  test.each([
    `${archive}`,
    `${archive}.claim-20261207T010203456Z-0123456789aB`,
    `${archive}.claim-20261207T010203456Z-0123456789a`,
    `${archive}.claim-2026120T010203456Z-0123456789ab`,
    `${archive}.manifest.json`,
  ])('%s is not a claim key', (key) => {
    expect(parseClaimKey(key)).toBeUndefined();
  });
});
