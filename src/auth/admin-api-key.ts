import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppConfig } from '../common/config/config.js';
import { StartupError } from '../common/errors/startup-error.js';

export interface AdminKeySource {
  key: string;
  /** The file the key was read from or written to, when it did not come from ADMIN_API_KEY. */
  file?: string;
  generated: boolean;
}

/**
 * ADMIN_API_KEY when set. Outside production, an unset key is generated on first start and kept in
 * `<DATA_DIR>/admin-api-key` (mode 0600) so later starts reuse it; production refuses to start
 * without one (checked in config).
 */
export async function resolveAdminApiKey(config: AppConfig): Promise<AdminKeySource> {
  if (config.adminApiKey) return { key: config.adminApiKey, generated: false };
  const file = path.resolve(config.dataDir, 'admin-api-key');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length >= 16) return { key: stored, file, generated: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw unusableDataDir(file, error);
  }
  const key = `tm_admin_${randomBytes(32).toString('base64url')}`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  } catch (error) {
    throw unusableDataDir(file, error);
  }
  return { key, file, generated: true };
}

function unusableDataDir(file: string, error: unknown): StartupError {
  return new StartupError(
    'DATA_DIR',
    `DATA_DIR=${path.dirname(file)} is not a writable directory: the generated admin key is kept in ${file} (or set ADMIN_API_KEY)`,
    { cause: error },
  );
}
