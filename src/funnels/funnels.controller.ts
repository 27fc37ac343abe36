import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import { PageQueryDto } from '../common/pagination/cursor.js';
import { RangeQueryDto } from '../sessions/dto/session.dto.js';
import { CreateFunnelDto, FunnelDto, FunnelListDto, FunnelReportDto } from './dto/funnel.dto.js';
import { FunnelsService } from './funnels.service.js';

@ApiTags('funnels')
@Controller('v1/projects/:projectId/funnels')
export class FunnelsController {
  constructor(private readonly funnels: FunnelsService) {}

  @Get()
  @ProjectAccess('read')
  @ApiOperation({ summary: 'List funnels: the built-in `default` first, then custom ones' })
  @ApiOkResponse({ type: FunnelListDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  list(@Param('projectId') projectId: string, @Query() query: PageQueryDto): Promise<FunnelListDto> {
    return this.funnels.list(projectId, query.limit, query.cursor);
  }

  @Post()
  @HttpCode(201)
  @ProjectAccess('admin')
  @ApiOperation({ summary: 'Define a custom funnel of 2 to 20 steps' })
  @ApiCreatedResponse({ type: FunnelDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  create(@Param('projectId') projectId: string, @Body() body: CreateFunnelDto): Promise<FunnelDto> {
    return this.funnels.create(projectId, body);
  }

  @Delete(':funnelId')
  @HttpCode(204)
  @ProjectAccess('admin')
  @ApiOperation({ summary: 'Delete a custom funnel' })
  @ApiNoContentResponse()
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'FUNNEL_NOT_FOUND', 'FUNNEL_READ_ONLY')
  delete(@Param('projectId') projectId: string, @Param('funnelId') funnelId: string): Promise<void> {
    return this.funnels.delete(projectId, funnelId);
  }

  @Get(':funnelId/report')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'Visitors and drop-off per stage over sessions started in [from, to)' })
  @ApiOkResponse({ type: FunnelReportDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'FUNNEL_NOT_FOUND')
  report(@Param('projectId') projectId: string, @Param('funnelId') funnelId: string, @Query() query: RangeQueryDto): Promise<FunnelReportDto> {
    return this.funnels.report(projectId, funnelId, query.from, query.to);
  }
}
