import type { BackupConfig, Config } from '../../src/config/types.js';

/** The config of a backup; throws when the inputs parsed into another command's config. */
export function asBackup(config: Config): BackupConfig {
  if (config.command !== 'backup') throw new Error(`expected a backup config, got command ${config.command}`);
  return config;
}
