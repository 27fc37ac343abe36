import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import type { Page } from '../common/pagination/cursor.js';
import { SYSTEM_PROJECT_ID } from '../projects/projects.repository.js';
import {
  OperationalMetricDaysDto,
  OperationalMetricPageDto,
  OperationalMetricsDailyQueryDto,
  OperationalMetricsQueryDto,
  RecordOperationalMetricsDto,
  RecordOperationalMetricsResultDto,
  type OperationalMetricDto,
} from './dto/operational-metrics.dto.js';
import { OperationalMetricsService } from './operational-metrics.service.js';

@ApiTags('operational-metrics')
@Controller('v1/projects/:projectId/operational-metrics')
export class ProjectOperationalMetricsController {
  constructor(private readonly metrics: OperationalMetricsService) {}

  @Post()
  @HttpCode(200)
  @ProjectAccess('ingest')
  @ApiOperation({
    summary: 'Record operational metrics (1–1000); invalid ones are rejected one by one',
    description: 'Valid metrics are stored; each invalid one is listed in `rejected` with its index, code and reason.',
  })
  @ApiOkResponse({ type: RecordOperationalMetricsResultDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  record(@Param('projectId') projectId: string, @Body() body: RecordOperationalMetricsDto): Promise<RecordOperationalMetricsResultDto> {
    return this.metrics.record(projectId, body.metrics);
  }

  @Get()
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Raw operational metrics of the last 30 days, newest first' })
  @ApiOkResponse({ type: OperationalMetricPageDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  list(@Param('projectId') projectId: string, @Query() query: OperationalMetricsQueryDto): Promise<Page<OperationalMetricDto>> {
    return this.metrics.list(projectId, query);
  }

  @Get('daily')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Daily operational metrics (count, sum, min, max, avg, p95) per type and label set, days ascending' })
  @ApiOkResponse({ type: OperationalMetricDaysDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  daily(@Param('projectId') projectId: string, @Query() query: OperationalMetricsDailyQueryDto): Promise<OperationalMetricDaysDto> {
    return this.metrics.daily(projectId, query);
  }
}

/** The service's own metrics (jobs, queues, 5xx answers), kept under the reserved system project. */
@ApiTags('operational-metrics')
@Controller('v1/operational-metrics')
@AdminOnly()
export class SystemOperationalMetricsController {
  constructor(private readonly metrics: OperationalMetricsService) {}

  @Get()
  @ApiOperation({ summary: "The service's own raw operational metrics, newest first" })
  @ApiOkResponse({ type: OperationalMetricPageDto })
  @ApiProblems('VALIDATION_FAILED')
  list(@Query() query: OperationalMetricsQueryDto): Promise<Page<OperationalMetricDto>> {
    return this.metrics.list(SYSTEM_PROJECT_ID, query);
  }

  @Get('daily')
  @ApiOperation({ summary: "The service's own daily operational metrics, days ascending" })
  @ApiOkResponse({ type: OperationalMetricDaysDto })
  @ApiProblems('VALIDATION_FAILED')
  daily(@Query() query: OperationalMetricsDailyQueryDto): Promise<OperationalMetricDaysDto> {
    return this.metrics.daily(SYSTEM_PROJECT_ID, query);
  }
}
