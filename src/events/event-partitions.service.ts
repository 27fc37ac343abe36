import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import { EventsRepository, partitionName, type PartitionMonth } from './events.repository.js';

/** Months ahead of the current one whose partitions are kept ready. */
const MONTHS_AHEAD = 2;

/**
 * Keeps tracking_events partitioned by UTC month: the current and next months are created at boot
 * and by the aggregation job; an event for any other month (old history) creates its month on
 * arrival. If a month cannot be created (e.g. rows for it already sit in the DEFAULT partition),
 * its events go to DEFAULT: an insert never fails for lack of a partition.
 */
@Injectable()
export class EventPartitionsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(EventPartitionsService.name);
  private readonly known = new Set<string>();

  constructor(
    private readonly events: EventsRepository,
    private readonly clock: Clock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const name of await this.events.listPartitions()) this.known.add(name);
    await this.ensureAhead();
  }

  /** Creates the partitions of the current month and the next ones; returns how many were new. */
  async ensureAhead(): Promise<number> {
    const now = this.clock.now();
    const months: PartitionMonth[] = [];
    for (let i = 0; i <= MONTHS_AHEAD; i++) {
      const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
      months.push({ year: at.getUTCFullYear(), month: at.getUTCMonth() + 1 });
    }
    return this.ensure(months);
  }

  async ensureFor(dates: Date[]): Promise<number> {
    const months = new Map<string, PartitionMonth>();
    for (const date of dates) {
      const month = { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1 };
      months.set(partitionName(month), month);
    }
    return this.ensure([...months.values()]);
  }

  private async ensure(months: PartitionMonth[]): Promise<number> {
    let created = 0;
    for (const month of months) {
      const name = partitionName(month);
      if (this.known.has(name)) continue;
      try {
        await this.events.createPartition(month);
        created++;
      } catch (error) {
        this.logger.warn({ partition: name, err: error }, 'partition not created; its events go to tracking_events_default');
      }
      this.known.add(name);
    }
    return created;
  }
}
