import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import { JobListDto, JobRunDto, JobRunPageDto, JobRunsQueryDto, RunJobBodyDto, RunJobQueryDto, StartedJobRunDto } from './dto/job.dto.js';
import { JobsApi } from './jobs.api.js';

@ApiTags('jobs')
@Controller('v1/jobs')
@AdminOnly()
export class JobsController {
  constructor(private readonly jobs: JobsApi) {}

  @Get()
  @ApiOperation({ summary: 'List jobs with their schedule, next run and last run' })
  @ApiOkResponse({ type: JobListDto })
  @ApiProblems('VALIDATION_FAILED')
  list(): Promise<JobListDto> {
    return this.jobs.list();
  }

  @Post(':jobName/runs')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Start a run now',
    description: 'Answers 202 at once, or with `wait=true` 200 with the finished run.',
  })
  @ApiBody({ type: RunJobBodyDto, required: false })
  @ApiAcceptedResponse({ type: StartedJobRunDto })
  @ApiOkResponse({ type: JobRunDto, description: 'With wait=true: the finished run' })
  @ApiProblems('VALIDATION_FAILED', 'JOB_NOT_FOUND', 'JOB_ALREADY_RUNNING')
  async run(
    @Param('jobName') jobName: string,
    @Query() query: RunJobQueryDto,
    @Body() body: RunJobBodyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StartedJobRunDto | JobRunDto> {
    const params = body?.full !== undefined ? { full: body.full } : {};
    if (query.wait) {
      void reply.status(200);
      return this.jobs.runAndWait(jobName, params);
    }
    return this.jobs.start(jobName, params);
  }

  @Get(':jobName/runs')
  @ApiOperation({ summary: 'Runs of a job, newest first' })
  @ApiOkResponse({ type: JobRunPageDto })
  @ApiProblems('VALIDATION_FAILED', 'JOB_NOT_FOUND')
  listRuns(@Param('jobName') jobName: string, @Query() query: JobRunsQueryDto): Promise<JobRunPageDto> {
    return this.jobs.listRuns(jobName, query.limit, query.cursor);
  }

  @Get(':jobName/runs/:runId')
  @ApiOperation({ summary: 'One run of a job' })
  @ApiOkResponse({ type: JobRunDto })
  @ApiProblems('VALIDATION_FAILED', 'JOB_NOT_FOUND', 'JOB_RUN_NOT_FOUND')
  getRun(@Param('jobName') jobName: string, @Param('runId') runId: string): Promise<JobRunDto> {
    return this.jobs.getRun(jobName, runId);
  }
}
