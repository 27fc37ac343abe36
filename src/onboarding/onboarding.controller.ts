import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, UseInterceptors } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ProjectAccess } from '../auth/access.decorators.js';
import { ApiProblems } from '../common/http/api-docs.js';
import type { Page } from '../common/pagination/cursor.js';
import { ProjectsService } from '../projects/projects.service.js';
import { CompleteStepBodyDto, CompleteStepPathDto, StepCompletionDto, UserPathDto } from './dto/complete-step.dto.js';
import { KpiEventPageDto, KpiEventQueryDto, KpiStatsDto, KpiStatsQueryDto, type KpiEventDto } from './dto/kpi-event.dto.js';
import { OnboardingProgressDto, OnboardingStepListDto } from './dto/onboarding-progress.dto.js';
import { OnboardingProcessor } from './onboarding.processor.js';
import { CompleteStepRequestInterceptor } from './complete-step-request.interceptor.js';
import { COMPLETE_STEP_RULES } from './onboarding.rules.js';
import { OnboardingService } from './onboarding.service.js';

@ApiTags('onboarding')
@Controller('v1/projects/:projectId')
export class OnboardingController {
  constructor(
    private readonly processor: OnboardingProcessor,
    private readonly onboarding: OnboardingService,
    private readonly projects: ProjectsService,
  ) {}

  @Post('users/:userId/onboarding/steps/:step/complete')
  @HttpCode(200)
  @ProjectAccess('ingest')
  @ApiOperation({
    summary: 'Complete an onboarding step for a user and record its leading-KPI event',
    description:
      'Steps must be completed in order. A repeat for a completed step returns the first completion with `alreadyCompleted: true` and records no second KPI event. ' +
      'If the KPI event cannot be recorded the completion still succeeds, `kpiEvent.status` is `failed`, and the kpi-event-retry job records it later.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: `Repeats with the same key and request get the first answer; with another request, 422 IDEMPOTENCY_KEY_REUSED (${COMPLETE_STEP_RULES.idempotencyKey.minLength}–${COMPLETE_STEP_RULES.idempotencyKey.maxLength} visible ASCII characters)`,
  })
  @ApiOkResponse({ type: StepCompletionDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND', 'ONBOARDING_STEP_NOT_FOUND', 'ONBOARDING_STEP_NOT_ELIGIBLE', 'IDEMPOTENCY_KEY_REUSED')
  @UseInterceptors(CompleteStepRequestInterceptor)
  completeStep(
    @Param() path: CompleteStepPathDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Body() body: CompleteStepBodyDto,
  ): Promise<StepCompletionDto> {
    return this.processor.completeStep({
      projectId: path.projectId,
      userId: path.userId,
      step: path.step,
      source: body.source,
      metadata: body.metadata,
      idempotencyKey,
    });
  }

  @Get('users/:userId/onboarding')
  @ProjectAccess('read')
  @ApiOperation({ summary: "A user's onboarding progress, step by step" })
  @ApiOkResponse({ type: OnboardingProgressDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  progress(@Param() path: UserPathDto): Promise<OnboardingProgressDto> {
    return this.onboarding.progress(path.projectId, path.userId);
  }

  @Get('onboarding/steps')
  @ProjectAccess('read')
  @ApiOperation({ summary: "The project's ordered onboarding steps and the KPI each one records" })
  @ApiOkResponse({ type: OnboardingStepListDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  steps(@Param('projectId') projectId: string): Promise<OnboardingStepListDto> {
    return this.onboarding.stepList(projectId);
  }

  @Get('kpi-events')
  @ProjectAccess('read')
  @ApiOperation({ summary: 'KPI events with their recording status, newest first' })
  @ApiOkResponse({ type: KpiEventPageDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  kpiEvents(@Param('projectId') projectId: string, @Query() query: KpiEventQueryDto): Promise<Page<KpiEventDto>> {
    return this.onboarding.kpiEvents(projectId, query);
  }

  @Get('stats/kpis')
  @ProjectAccess('read')
  @ApiOperation({ summary: "Recorded KPI events per KPI per day or ISO week of the project's time zone" })
  @ApiOkResponse({ type: KpiStatsDto })
  @ApiProblems('VALIDATION_FAILED', 'PROJECT_NOT_FOUND')
  async kpiStats(@Param('projectId') projectId: string, @Query() query: KpiStatsQueryDto): Promise<KpiStatsDto> {
    return this.onboarding.kpiStats(await this.projects.get(projectId), query);
  }
}
