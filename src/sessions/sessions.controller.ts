import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import type { Page } from '../common/pagination/cursor.js';
import {
  JourneyPathListDto,
  JourneyQueryDto,
  JourneyTransitionListDto,
  RangeQueryDto,
  SessionDto,
  SessionPageDto,
  SessionsQueryDto,
  SessionStatsDto,
} from './dto/session.dto.js';
import { SessionsService } from './sessions.service.js';

@ApiTags('sessions')
@Controller('v1/projects/:projectId')
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Get('sessions')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'List sessions started in [from, to), newest first' })
  @ApiOkResponse({ type: SessionPageDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  list(@Param('projectId') projectId: string, @Query() query: SessionsQueryDto): Promise<Page<SessionDto>> {
    return this.sessions.list(projectId, query);
  }

  @Get('sessions/:sessionId')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Get one session' })
  @ApiOkResponse({ type: SessionDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'SESSION_NOT_FOUND')
  get(@Param('projectId') projectId: string, @Param('sessionId') sessionId: string): Promise<SessionDto> {
    return this.sessions.get(projectId, sessionId);
  }

  @Get('stats/sessions')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Session statistics over sessions started in [from, to)' })
  @ApiOkResponse({ type: SessionStatsDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  stats(@Param('projectId') projectId: string, @Query() query: RangeQueryDto): Promise<SessionStatsDto> {
    return this.sessions.stats(projectId, query);
  }

  @Get('journeys/paths')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Most common whole journey paths of sessions started in [from, to)' })
  @ApiOkResponse({ type: JourneyPathListDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  paths(@Param('projectId') projectId: string, @Query() query: JourneyQueryDto): Promise<JourneyPathListDto> {
    return this.sessions.journeyPaths(projectId, query);
  }

  @Get('journeys/transitions')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Page-to-page transitions (entry from null, exit to null) for a Sankey chart' })
  @ApiOkResponse({ type: JourneyTransitionListDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  transitions(@Param('projectId') projectId: string, @Query() query: JourneyQueryDto): Promise<JourneyTransitionListDto> {
    return this.sessions.journeyTransitions(projectId, query);
  }
}
