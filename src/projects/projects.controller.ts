import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import { PageQueryDto, type Page } from '../common/pagination/cursor.js';
import { CreateProjectDto, ProjectDto, ProjectPageDto } from './dto/project.dto.js';
import { ProjectsService, toProjectDto } from './projects.service.js';

@ApiTags('projects')
@Controller('v1/projects')
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Post()
  @HttpCode(201)
  @AdminOnly()
  @ApiOperation({ summary: 'Create a project' })
  @ApiCreatedResponse({ type: ProjectDto })
  @ApiProblems('VALIDATION_FAILED')
  create(@Body() body: CreateProjectDto): Promise<ProjectDto> {
    return this.projects.create(body);
  }

  @Get()
  @AdminOnly()
  @ApiOperation({ summary: 'List projects, oldest first' })
  @ApiOkResponse({ type: ProjectPageDto })
  @ApiProblems('VALIDATION_FAILED')
  list(@Query() query: PageQueryDto): Promise<Page<ProjectDto>> {
    return this.projects.list(query.limit, query.cursor);
  }

  @Get(':projectId')
  @ProjectAccess('any')
  @ApiOperation({ summary: 'Get a project' })
  @ApiOkResponse({ type: ProjectDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  async get(@Param('projectId') projectId: string): Promise<ProjectDto> {
    return toProjectDto(await this.projects.get(projectId));
  }
}
