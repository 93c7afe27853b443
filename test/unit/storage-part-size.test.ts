import { GiB, MAX_PARTS, MAX_PART_SIZE, MIN_PART_SIZE, MiB, multipartPlan } from '../../src/storage/part-size.js';

const GB = 1e9;
const TB = 1e12;

describe('multipartPlan', () => {
  test.each<[string, number | undefined, number, number]>([
    // label, expectedBytes, partSize, queueSize
    ['no estimate', undefined, 8 * MiB, 4],
    ['zero (unknown)', 0, 8 * MiB, 4],
    ['NaN (unknown)', Number.NaN, 8 * MiB, 4],
    ['negative (unknown)', -5, 8 * MiB, 4],
    ['small (1 MiB)', 1 * MiB, 8 * MiB, 4],
    ['1 GB', 1 * GB, 8 * MiB, 4],
    ['20 GB: 8 MiB still fits 4× the estimate', 20 * GB, 8 * MiB, 4],
    // 4 × 100e9 / 10,000 = 40,000,000 B = 38.15 MiB → 39 MiB; 39 × 5 > 512 MiB? no: 195 MiB
    ['100 GB', 100 * GB, 39 * MiB, 4],
    // 4 × 1e12 / 10,000 = 400,000,000 B = 381.47 MiB → 382 MiB; queue floor(512/382) - 1 = 0 → 1
    ['1 TB', 1 * TB, 382 * MiB, 1],
    // 4 × 10e12 / 10,000 = 4,000,000,000 B = 3814.7 MiB → 3815 MiB (under the 5 GiB cap)
    ['10 TB', 10 * TB, 3815 * MiB, 1],
    // 4 × 20e12 / 10,000 = 8e9 B > 5 GiB → capped
    ['20 TB (capped at 5 GiB)', 20 * TB, 5 * GiB, 1],
  ])('%s', (_label, expectedBytes, partSize, queueSize) => {
    const plan = multipartPlan(expectedBytes);
    expect(plan).toEqual({ partSize, queueSize });

    expect(plan.partSize).toBeGreaterThanOrEqual(MIN_PART_SIZE);
    expect(plan.partSize).toBeLessThanOrEqual(MAX_PART_SIZE);
    expect(plan.partSize % MiB).toBe(0);
    if (expectedBytes !== undefined && expectedBytes > 0 && plan.partSize < MAX_PART_SIZE) {
      // Four times the estimate fits in 10,000 parts …
      expect(Math.ceil((4 * expectedBytes) / plan.partSize)).toBeLessThanOrEqual(MAX_PARTS);
      // … and the part is the smallest whole MiB (≥ 8 MiB) that does so.
      if (plan.partSize > 8 * MiB) {
        expect(Math.ceil((4 * expectedBytes) / (plan.partSize - MiB))).toBeGreaterThan(MAX_PARTS);
      }
    }
    if (expectedBytes !== undefined && expectedBytes > 0) {
      // The estimate itself always fits.
      expect(Math.ceil(expectedBytes / plan.partSize)).toBeLessThanOrEqual(MAX_PARTS);
    }
    // Memory stays bounded by partSize × (queueSize + 1): 512 MiB, or two parts when parts are larger.
    expect(plan.partSize * (plan.queueSize + 1)).toBeLessThanOrEqual(Math.max(512 * MiB, 2 * plan.partSize));
  });

  test('without an estimate the default holds about 78 GiB', () => {
    const { partSize } = multipartPlan();
    expect(Math.floor((partSize * MAX_PARTS) / GiB)).toBe(78);
  });
});
