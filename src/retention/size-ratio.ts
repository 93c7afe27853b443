/**
 * The `min-size-ratio` rule, the one place it is decided: is `bytes` below `ratio` × `medianBytes`?
 * (`check`'s size check and the backup's anomaly finding both use it.)
 */
export function isBelowSizeRatio(bytes: number, medianBytes: number, ratio: number): boolean {
  return bytes < ratio * medianBytes;
}
