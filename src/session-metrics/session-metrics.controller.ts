import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import {
  PipelineRunPageDto,
  PipelineRunsQueryDto,
  SessionMetricsDto,
  SessionMetricsStatsDto,
  SessionMetricsStatsQueryDto,
} from './dto/session-metrics.dto.js';
import { SessionMetricsService } from './session-metrics.service.js';

@ApiTags('session metrics')
@Controller('v1/projects/:projectId')
export class SessionMetricsController {
  constructor(private readonly sessionMetrics: SessionMetricsService) {}

  @Get('sessions/:sessionId/metrics')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Quality metrics of a completed session' })
  @ApiOkResponse({ type: SessionMetricsDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'SESSION_ID_INVALID', 'SESSION_NOT_FOUND', 'SESSION_METRICS_NOT_FOUND')
  get(@Param('projectId') projectId: string, @Param('sessionId') sessionId: string): Promise<SessionMetricsDto> {
    return this.sessionMetrics.getMetrics(projectId, sessionId);
  }

  @Post('sessions/:sessionId/metrics/recompute')
  @HttpCode(200)
  @ProjectAccess('admin')
  @ApiOperation({ summary: 'Run the metrics pipeline for one session now and answer its metrics' })
  @ApiOkResponse({ type: SessionMetricsDto })
  @ApiProblems(
    'VALIDATION_FAILED',
    'PROJECT_NOT_FOUND',
    'SESSION_ID_INVALID',
    'SESSION_NOT_FOUND',
    'SESSION_NOT_COMPLETED',
    'SESSION_DATA_INVALID',
    'METRICS_PERSIST_FAILED',
    'PIPELINE_RUN_RECORD_FAILED',
  )
  recompute(@Param('projectId') projectId: string, @Param('sessionId') sessionId: string): Promise<SessionMetricsDto> {
    return this.sessionMetrics.recompute(projectId, sessionId);
  }

  @Get('pipeline-runs')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Attempts of the session metrics pipeline, newest first' })
  @ApiOkResponse({ type: PipelineRunPageDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  listRuns(@Param('projectId') projectId: string, @Query() query: PipelineRunsQueryDto): Promise<PipelineRunPageDto> {
    return this.sessionMetrics.listRuns(projectId, query);
  }

  @Get('stats/session-metrics')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Session quality metrics over the sessions started in [from, to)' })
  @ApiOkResponse({ type: SessionMetricsStatsDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  stats(@Param('projectId') projectId: string, @Query() query: SessionMetricsStatsQueryDto): Promise<SessionMetricsStatsDto> {
    return this.sessionMetrics.stats(projectId, query.from, query.to);
  }
}
