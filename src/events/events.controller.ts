import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import { IngestEventsDto, IngestResultDto } from './dto/ingest-events.dto.js';
import { EVENTS_ROUTE } from './event-types.js';
import { EventsService } from './events.service.js';

@ApiTags('events')
@Controller(EVENTS_ROUTE)
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Post()
  @HttpCode(200)
  @ProjectAccess('ingest')
  @ApiOperation({
    summary: 'Ingest a batch of tracking events',
    description: 'Valid events are stored; invalid ones are listed in `rejected` by index; a repeated eventId counts as a duplicate.',
  })
  @ApiOkResponse({ type: IngestResultDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  ingest(@Param('projectId') projectId: string, @Body() body: IngestEventsDto): Promise<IngestResultDto> {
    return this.events.ingest(projectId, body.events);
  }
}
