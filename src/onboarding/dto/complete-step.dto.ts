import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsString, ValidateIf } from 'class-validator';
import { COMPLETE_STEP_RULES as RULES, isValidMetadata, isValidSource, isValidStep, isValidUserId } from '../onboarding.rules.js';
import { SatisfiesRule } from './onboarding-rule.decorator.js';

export class UserPathDto {
  @ApiProperty({ format: 'uuid' })
  @IsString()
  projectId!: string;

  @ApiProperty({ minLength: RULES.userId.minLength, maxLength: RULES.userId.maxLength, example: 'user-42' })
  @SatisfiesRule(isValidUserId, `userId must be ${RULES.userId.minLength}–${RULES.userId.maxLength} characters without surrounding spaces`)
  userId!: string;
}

export class CompleteStepPathDto extends UserPathDto {
  @ApiProperty({ type: 'integer', minimum: RULES.step.min, maximum: RULES.step.max, example: 1 })
  @SatisfiesRule(isValidStep, `step must be a whole number from ${RULES.step.min} to ${RULES.step.max}`)
  @Type(() => Number)
  step!: number;
}

export class CompleteStepBodyDto {
  @ApiPropertyOptional({
    minLength: RULES.source.minLength,
    maxLength: RULES.source.maxLength,
    example: 'web-onboarding',
    description: 'Where the completion happened; recorded in the KPI event metadata (default "api")',
  })
  @ValidateIf((_, value) => value !== undefined)
  @SatisfiesRule(isValidSource, `source must be a string of ${RULES.source.minLength}–${RULES.source.maxLength} characters`)
  source?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: `Extra context kept with the completion and the KPI event (JSON object, at most ${RULES.metadata.maxBytes} bytes)`,
    example: { plan: 'trial' },
  })
  @ValidateIf((_, value) => value !== undefined)
  @SatisfiesRule(isValidMetadata, `metadata must be a JSON object of at most ${RULES.metadata.maxBytes} bytes`)
  metadata?: Record<string, unknown>;
}

export const KPI_EVENT_STATUSES = ['pending', 'recorded', 'failed'] as const;
export type KpiEventStatus = (typeof KPI_EVENT_STATUSES)[number];

export class KpiEventRefDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ type: String, nullable: true, example: 'kpi.onboarding.step_1_completed' }) kpiId!: string | null;
  @ApiProperty({ enum: KPI_EVENT_STATUSES, enumName: 'KpiEventStatus' }) status!: KpiEventStatus;
}

export class StepCompletionDto {
  @ApiProperty({ example: 'user-42' }) userId!: string;
  @ApiProperty({ type: 'integer', example: 1 }) step!: number;
  @ApiProperty({ format: 'date-time' }) completedAt!: string;
  @ApiProperty({ description: 'true when the step had been completed before; this is the first completion' })
  alreadyCompleted!: boolean;
  @ApiProperty({ type: KpiEventRefDto }) kpiEvent!: KpiEventRefDto;
}
