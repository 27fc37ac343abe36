/**
 * Every migration, in order. Listed here (not found by a file glob) so the same list serves the
 * compiled service, the migration CLI and the tests.
 */
import { Foundation1764000000000 } from './1764000000000-foundation.js';
import { TrackingEventsAndSessions1764000100000 } from './1764000100000-tracking-events-and-sessions.js';
import { SessionMetrics1764000200000 } from './1764000200000-session-metrics.js';
import { Onboarding1764000300000 } from './1764000300000-onboarding.js';
import { OperationalMetrics1764000400000 } from './1764000400000-operational-metrics.js';
import { MetricsReadModel1764000500000 } from './1764000500000-metrics-read-model.js';
import { MetricsSourceStateWithoutFk1764000510000 } from './1764000510000-metrics-source-state-without-fk.js';
import { BreakdownComponents1764000650000 } from './1764000650000-breakdown-components.js';
import { ApiKeyCreatedAtMs1764000660000 } from './1764000660000-api-key-created-at-ms.js';
import { MetricsSourceChangeLog1764000670000 } from './1764000670000-metrics-source-change-log.js';
import { RebuildQueueEventSpan1764000700000 } from './1764000700000-rebuild-queue-event-span.js';
import { MetricsComputeDefinition1764000710000 } from './1764000710000-metrics-compute-definition.js';
import { SessionsWritePath1764000720000 } from './1764000720000-sessions-write-path.js';
import { MetricsChangeLogOldInstants1764000730000 } from './1764000730000-metrics-change-log-old-instants.js';
import { DrilldownWithoutRetentionIndex1764000740000 } from './1764000740000-drilldown-without-retention-index.js';
import { ResumableFullPass1764000750000 } from './1764000750000-resumable-full-pass.js';
import { FullPassParts1764000770000 } from './1764000770000-full-pass-parts.js';
import { ChainedJobRuns1764000760000 } from './1764000760000-chained-job-runs.js';
import { MetricsDayValues1764000780000 } from './1764000780000-metrics-day-values.js';

export const MIGRATIONS = [
  Foundation1764000000000,
  TrackingEventsAndSessions1764000100000,
  SessionMetrics1764000200000,
  Onboarding1764000300000,
  OperationalMetrics1764000400000,
  MetricsReadModel1764000500000,
  MetricsSourceStateWithoutFk1764000510000,
  BreakdownComponents1764000650000,
  ApiKeyCreatedAtMs1764000660000,
  MetricsSourceChangeLog1764000670000,
  RebuildQueueEventSpan1764000700000,
  MetricsComputeDefinition1764000710000,
  SessionsWritePath1764000720000,
  MetricsChangeLogOldInstants1764000730000,
  DrilldownWithoutRetentionIndex1764000740000,
  ResumableFullPass1764000750000,
  ChainedJobRuns1764000760000,
  FullPassParts1764000770000,
  MetricsDayValues1764000780000,
];
