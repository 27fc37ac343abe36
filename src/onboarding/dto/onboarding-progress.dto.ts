import { ApiProperty } from '@nestjs/swagger';
import { KpiEventRefDto } from './complete-step.dto.js';

export class OnboardingStepDto {
  @ApiProperty({ type: 'integer', example: 1 }) step!: number;
  @ApiProperty({ example: 'Step 1' }) name!: string;
  @ApiProperty({ type: String, nullable: true, example: 'kpi.onboarding.step_1_completed' }) kpiId!: string | null;
}

export class OnboardingStepListDto {
  @ApiProperty({ enum: ['default', 'project'], description: 'default: the project has no steps of its own' })
  source!: 'default' | 'project';
  @ApiProperty({ type: [OnboardingStepDto] }) data!: OnboardingStepDto[];
}

export class StepProgressDto extends OnboardingStepDto {
  @ApiProperty() completed!: boolean;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) completedAt!: string | null;
  @ApiProperty({ type: KpiEventRefDto, nullable: true }) kpiEvent!: KpiEventRefDto | null;
}

export class OnboardingProgressDto {
  @ApiProperty({ example: 'user-42' }) userId!: string;
  @ApiProperty({ type: 'integer' }) completedSteps!: number;
  @ApiProperty({ type: 'integer' }) totalSteps!: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The first step not yet completed; null when all are' })
  nextStep!: number | null;
  @ApiProperty({ type: [StepProgressDto] }) steps!: StepProgressDto[];
}
