import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      databaseUrl: undefined,
      dataDir: '.data',
      adminApiKey: undefined,
      logLevel: 'info',
      migrationsRun: true,
      jobsEnabled: true,
    });
    expect(config.schedules['job-runs-prune']).toBe('0 3 * * *');
    expect(config.schedules['session-aggregation']).toBe('0 */4 * * *');
    expect(config.schedules['operational-metrics-rollup']).toBe('30 1 * * *');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ MIGRATIONS_RUN: 'maybe' }, 'MIGRATIONS_RUN'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ NODE_ENV: 'production' }, 'ADMIN_API_KEY'],
    [{ SESSION_AGGREGATION_CRON: 'every four hours' }, 'SESSION_AGGREGATION_CRON'],
    [{ DATABASE_POOL_SIZE: '1' }, 'DATABASE_POOL_SIZE'],
  ])('stops on %j with one line naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect((error as Error).message).not.toContain('\n');
  });

  it('reads valid values', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://u:p@db:5432/trailmark',
      MIGRATIONS_RUN: 'false',
      NODE_ENV: 'production',
      ADMIN_API_KEY: 'a-very-long-admin-key',
      SESSION_AGGREGATION_CRON: '*/15 * * * *',
    });
    expect(config).toMatchObject({ port: 8080, migrationsRun: false, nodeEnv: 'production', adminApiKey: 'a-very-long-admin-key' });
    expect(config.schedules['session-aggregation']).toBe('*/15 * * * *');
  });
});
