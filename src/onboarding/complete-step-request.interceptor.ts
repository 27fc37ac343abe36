import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { AppError } from '../common/errors/app-error.js';
import { validateCompleteStepRequest } from './onboarding.rules.js';

/**
 * Checks a step completion's path, Idempotency-Key header and body together, with the rules the
 * client package validates with, so one 400 names every bad field (spec §5). The validation pipe
 * checks a handler's arguments one at a time and stops at the first that fails, so a bad step
 * hid a bad body. Interceptors run after authentication and before the pipes.
 */
@Injectable()
export class CompleteStepRequestInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<{ params: Record<string, string>; headers: Record<string, unknown>; body: unknown }>();
    const violations = validateCompleteStepRequest({
      userId: request.params.userId,
      step: request.params.step,
      idempotencyKey: request.headers['idempotency-key'],
      body: request.body,
    });
    if (violations.length > 0) throw AppError.validation(violations);
    return next.handle();
  }
}
