import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import {
  BreakdownDto,
  BreakdownQueryDto,
  DrilldownPageDto,
  DrilldownQueryDto,
  MetricCatalogueDto,
  MetricsSummaryDto,
  SummaryQueryDto,
  TrendDto,
  TrendQueryDto,
} from './dto/metrics.dto.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('metrics')
@Controller('v1/projects/:projectId/metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ProjectAccess('read')
  @ApiOperation({ summary: 'The metric catalogue: every metric with its unit, source, grains, breakdowns and drilldowns' })
  @ApiOkResponse({ type: MetricCatalogueDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  // The catalogue is the same for every project, so the handler reads no projectId; the path
  // (and the access check) still has one, which the document must declare.
  @ApiParam({ name: 'projectId', type: String })
  catalogue(): MetricCatalogueDto {
    return this.metrics.catalogue();
  }

  @Get('summary')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'The latest summary snapshot at or before `at` (default now)' })
  @ApiOkResponse({ type: MetricsSummaryDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'METRICS_SUMMARY_NOT_FOUND')
  summary(@Param('projectId') projectId: string, @Query() query: SummaryQueryDto): Promise<MetricsSummaryDto> {
    return this.metrics.summary(projectId, query.at);
  }

  @Get(':metricKey/trend')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'A metric per time bucket of [from, to) in the project timezone, gaps filled (at most 2,000 buckets)' })
  @ApiOkResponse({ type: TrendDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'METRIC_NOT_FOUND')
  trend(@Param('projectId') projectId: string, @Param('metricKey') metricKey: string, @Query() query: TrendQueryDto): Promise<TrendDto> {
    return this.metrics.trend(projectId, metricKey, query);
  }

  @Get(':metricKey/breakdown')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'A metric per dimension value over the day buckets of [from, to), combined from components, largest first' })
  @ApiOkResponse({ type: BreakdownDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'METRIC_NOT_FOUND')
  breakdown(@Param('projectId') projectId: string, @Param('metricKey') metricKey: string, @Query() query: BreakdownQueryDto): Promise<BreakdownDto> {
    return this.metrics.breakdown(projectId, metricKey, query);
  }

  @Get(':metricKey/drilldown')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'The entities behind a metric in the day buckets of [from, to), newest first (kept 30 days)' })
  @ApiOkResponse({ type: DrilldownPageDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'METRIC_NOT_FOUND')
  drilldown(
    @Param('projectId') projectId: string,
    @Param('metricKey') metricKey: string,
    @Query() query: DrilldownQueryDto,
  ): Promise<DrilldownPageDto> {
    return this.metrics.drilldown(projectId, metricKey, query);
  }
}
