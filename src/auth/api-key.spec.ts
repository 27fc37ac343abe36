import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { loadConfig } from '../common/config/config.js';
import { resolveAdminApiKey } from './admin-api-key.js';
import { generateApiKey, parseApiKey, secretMatches } from './api-key.js';

describe('API key secrets', () => {
  it('generates distinct keys whose stored hash is the SHA-256 of the secret part', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).not.toBe(b.key);
    const parsed = parseApiKey(a.key)!;
    expect(parsed.prefix).toBe(a.prefix);
    expect(a.secretHash.equals(createHash('sha256').update(parsed.secret).digest())).toBe(true);
    expect(secretMatches(parsed.secret, a.secretHash)).toBe(true);
    expect(secretMatches(parseApiKey(b.key)!.secret, a.secretHash)).toBe(false);
  });

  it('does not parse malformed keys', () => {
    expect(parseApiKey('tm_short_x')).toBeUndefined();
    expect(parseApiKey('')).toBeUndefined();
  });
});

describe('admin key bootstrap', () => {
  it('generates a key once into DATA_DIR/admin-api-key with mode 0600 and reuses it', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trailmark-admin-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    const first = await resolveAdminApiKey(config);
    expect(first.generated).toBe(true);
    expect(first.file).toBe(path.join(dataDir, 'admin-api-key'));
    expect((await stat(first.file!)).mode & 0o777).toBe(0o600);
    expect((await readFile(first.file!, 'utf8')).trim()).toBe(first.key);
    const second = await resolveAdminApiKey(config);
    expect(second).toEqual({ key: first.key, file: first.file, generated: false });
  });

  it('uses ADMIN_API_KEY when set and writes no file', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'trailmark-admin-'));
    const source = await resolveAdminApiKey(loadConfig({ DATA_DIR: dataDir, ADMIN_API_KEY: 'configured-admin-key-123' }));
    expect(source).toEqual({ key: 'configured-admin-key-123', generated: false });
  });
});
