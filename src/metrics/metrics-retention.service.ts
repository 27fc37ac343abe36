import { Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import type { JobCounts } from '../jobs/job-registry.js';
import { FINE_GRAINS, METRICS_RETENTION } from './metric-catalogue.constants.js';
import { MetricsReadModelRepository } from './metrics-read-model.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Retention of the read model (seed §5), against the injectable clock: summary snapshots 180 days,
 * and only the last of each UTC day after 30 days; hour and day trend points 90 days (week and month
 * points stay: that is the weekly downsampling), and the day values with them; breakdown points 90
 * days; drilldown rows 30 days.
 */
@Injectable()
export class MetricsRetentionService {
  constructor(
    private readonly repository: MetricsReadModelRepository,
    private readonly clock: Clock,
  ) {}

  async run(): Promise<JobCounts> {
    const now = this.clock.now().getTime();
    const ago = (days: number) => new Date(now - days * DAY_MS);
    return {
      summariesDeleted: await this.repository.deleteOldSummaries(ago(METRICS_RETENTION.summaryDays)),
      summariesThinned: await this.repository.thinSummaries(ago(METRICS_RETENTION.summaryAllSnapshotsDays)),
      ...(await this.repository.deleteFinePoints(FINE_GRAINS, ago(METRICS_RETENTION.fineTrendDays))),
      breakdownPointsDeleted: await this.repository.deleteBreakdownPoints(ago(METRICS_RETENTION.breakdownDays)),
      drilldownRowsDeleted: await this.repository.deleteDrilldown(ago(METRICS_RETENTION.drilldownDays)),
    };
  }
}
