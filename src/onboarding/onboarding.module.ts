/**
 * Onboarding steps and their leading-KPI analytics events (seed onboarding-kpi-event): step
 * completion with idempotency, the KPI event outbox and its retry job, progress, KPI event lists
 * and KPI trend stats.
 */
import { Module } from '@nestjs/common';
import { ProjectsModule } from '../projects/projects.module.js';
import { KpiEventRetryJob } from './kpi-event-retry.job.js';
import { OnboardingController } from './onboarding.controller.js';
import { OnboardingProcessor } from './onboarding.processor.js';
import { OnboardingRepository } from './onboarding.repository.js';
import { OnboardingService } from './onboarding.service.js';
import { OnboardingVerifier } from './onboarding.verifier.js';

@Module({
  imports: [ProjectsModule],
  controllers: [OnboardingController],
  providers: [OnboardingRepository, OnboardingService, OnboardingProcessor, OnboardingVerifier, KpiEventRetryJob],
  exports: [OnboardingService],
})
export class OnboardingModule {}
