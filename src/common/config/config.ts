/**
 * The service's whole configuration: read from the environment once, validated, and handed to the
 * rest of the code as one typed object (no `process.env` anywhere else).
 */
import { validateCronExpression } from 'cron';
import { StartupError } from '../errors/startup-error.js';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface AppConfig {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  /** Unset: the service runs its own embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPostgresPort: number;
  /** Unset outside production: generated once and kept in `<dataDir>/admin-api-key`. */
  adminApiKey: string | undefined;
  logLevel: LogLevel;
  logPretty: boolean;
  migrationsRun: boolean;
  /** Off: this instance serves HTTP only and neither schedules nor works queued jobs. */
  jobsEnabled: boolean;
  shutdownTimeoutMs: number;
  bodyLimitBytes: number;
  databasePoolSize: number;
  /** Cron expression (UTC) per scheduled job, keyed by job name. */
  schedules: Record<string, string>;
  ingest: { maxEventsPerBatch: number };
  /** Sessions per aggregation batch, and the workers of a full pass (each on its own connection). */
  sessions: { aggregationBatchSize: number; aggregationWorkers: number };
  /** Session ids per queued metrics job, and jobs one instance works at a time. */
  sessionMetrics: { batchSize: number; concurrency: number };
  jobRunsRetentionDays: number;
  /** Raw operational metrics are kept this many whole UTC days before the current one. */
  operationalMetrics: { rawRetentionDays: number };
}

export class ConfigError extends StartupError {
  constructor(variable: string, message: string) {
    super(variable, `Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${value}")`);
  }
  return Number(value);
}

function readBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (['true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no'].includes(value)) return false;
  throw new ConfigError(name, `must be true or false (got "${value}")`);
}

function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
  }
  return value as T;
}

function readCron(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  const check = validateCronExpression(value);
  if (!check.valid) throw new ConfigError(name, `must be a cron expression (got "${value}")`);
  return value;
}

function readDatabaseUrl(env: Env, name: string): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `must be a postgres:// URL (got "${value}")`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(name, `must be a postgres:// URL (got protocol "${url.protocol}")`);
  }
  return value;
}

/**
 * Every scheduled job's environment variable and default schedule. The job registry checks at boot
 * that each scheduled job has an entry here, so a schedule cannot be forgotten.
 */
export const JOB_SCHEDULE_VARIABLES: Record<string, { variable: string; defaultCron: string }> = {
  'job-runs-prune': { variable: 'JOB_RUNS_PRUNE_CRON', defaultCron: '0 3 * * *' },
  'session-aggregation': { variable: 'SESSION_AGGREGATION_CRON', defaultCron: '0 */4 * * *' },
  'session-metrics-sweep': { variable: 'SESSION_METRICS_SWEEP_CRON', defaultCron: '0 * * * *' },
  'kpi-event-retry': { variable: 'KPI_EVENT_RETRY_CRON', defaultCron: '*/5 * * * *' },
  'operational-metrics-rollup': { variable: 'OPERATIONAL_ROLLUP_CRON', defaultCron: '30 1 * * *' },
  'queue-depth-sample': { variable: 'QUEUE_DEPTH_SAMPLE_CRON', defaultCron: '* * * * *' },
  'metrics-compute': { variable: 'METRICS_COMPUTE_CRON', defaultCron: '5 * * * *' },
  'metrics-retention': { variable: 'METRICS_RETENTION_CRON', defaultCron: '15 2 * * *' },
};

export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = readEnum<NodeEnv>(env, 'NODE_ENV', ['development', 'production', 'test'], 'development');
  const adminApiKey = raw(env, 'ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 16) {
    throw new ConfigError('ADMIN_API_KEY', 'must be at least 16 characters long');
  }
  if (adminApiKey === undefined && nodeEnv === 'production') {
    throw new ConfigError('ADMIN_API_KEY', 'must be set when NODE_ENV=production');
  }
  const schedules: Record<string, string> = {};
  for (const [job, { variable, defaultCron }] of Object.entries(JOB_SCHEDULE_VARIABLES)) {
    schedules[job] = readCron(env, variable, defaultCron);
  }
  return {
    nodeEnv,
    host: raw(env, 'HOST') ?? '0.0.0.0',
    port: readInt(env, 'PORT', 3000, 0, 65535),
    databaseUrl: readDatabaseUrl(env, 'DATABASE_URL'),
    dataDir: raw(env, 'DATA_DIR') ?? '.data',
    embeddedPostgresPort: readInt(env, 'EMBEDDED_POSTGRES_PORT', 54329, 1, 65535),
    adminApiKey,
    logLevel: readEnum<LogLevel>(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
    logPretty: readBool(env, 'LOG_PRETTY', false),
    migrationsRun: readBool(env, 'MIGRATIONS_RUN', true),
    jobsEnabled: readBool(env, 'JOBS_ENABLED', true),
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    bodyLimitBytes: readInt(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    // at least 2: a metrics compute run holds two connections at once (MetricsReadModelRepository.computeAlongside)
    databasePoolSize: readInt(env, 'DATABASE_POOL_SIZE', 10, 2, 200),
    schedules,
    ingest: { maxEventsPerBatch: readInt(env, 'INGEST_MAX_EVENTS', 1000, 1, 10_000) },
    sessions: {
      aggregationBatchSize: readInt(env, 'SESSION_AGGREGATION_BATCH', 1000, 1, 100_000),
      aggregationWorkers: readInt(env, 'SESSION_AGGREGATION_WORKERS', 2, 1, 8),
    },
    sessionMetrics: {
      batchSize: readInt(env, 'SESSION_METRICS_BATCH_SIZE', 1000, 1, 1000),
      concurrency: readInt(env, 'SESSION_METRICS_CONCURRENCY', 3, 1, 16),
    },
    jobRunsRetentionDays: readInt(env, 'JOB_RUNS_RETENTION_DAYS', 90, 1, 3650),
    operationalMetrics: { rawRetentionDays: readInt(env, 'OPERATIONAL_RAW_RETENTION_DAYS', 30, 1, 3650) },
  };
}
