import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock/clock.js';
import { APP_CONFIG } from '../common/config/config.module.js';
import type { AppConfig } from '../common/config/config.js';
import { AppError } from '../common/errors/app-error.js';
import type { IngestResultDto, RejectedEventDto } from './dto/ingest-events.dto.js';
import { EventPartitionsService } from './event-partitions.service.js';
import { EventsRepository } from './events.repository.js';
import { isRejection, verifyEvent, type NewTrackingEvent } from './events.verifier.js';

/** Ingestion: valid events stored once per event id, invalid ones listed by index. */
@Injectable()
export class EventsService {
  constructor(
    private readonly events: EventsRepository,
    private readonly partitions: EventPartitionsService,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async ingest(projectId: string, batch: unknown[]): Promise<IngestResultDto> {
    const max = this.config.ingest.maxEventsPerBatch;
    if (batch.length > max) {
      throw AppError.validation([{ field: 'events', message: `events must contain at most ${max} events` }]);
    }
    const now = this.clock.now();
    const rejected: RejectedEventDto[] = [];
    const valid: NewTrackingEvent[] = [];
    const seen = new Set<string>();
    let duplicates = 0;
    batch.forEach((raw, index) => {
      const result = verifyEvent(raw, now);
      if (isRejection(result)) rejected.push({ index, ...result });
      else if (seen.has(result.eventId)) duplicates++;
      else {
        seen.add(result.eventId);
        valid.push(result);
      }
    });
    if (!valid.length) return { accepted: 0, duplicates, rejected };
    await this.partitions.ensureFor(valid.map((e) => e.occurredAt));
    const accepted = await this.events.insert(projectId, valid, new Date(Math.floor(now.getTime())));
    return { accepted, duplicates: duplicates + valid.length - accepted, rejected };
  }
}
