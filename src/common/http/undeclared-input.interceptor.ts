import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Observable } from 'rxjs';
import { AppError, type FieldError } from '../errors/app-error.js';

/**
 * Unknown fields are rejected (spec §5). The validation pipe rejects those a route's query or body
 * class does not declare, but a route that takes no query string or no body has no class to check
 * them against, so `GET …/onboarding/steps?x=1` used to answer 200. This rejects, on the API's
 * routes (`/v1`), every query field of a route whose handler reads no query, and every body field
 * of one that reads no body, naming each, after authentication (interceptors run after guards).
 */
@Injectable()
export class UndeclaredInputInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<{ url?: string; query?: Record<string, unknown>; body?: unknown }>();
    if (context.getType() !== 'http' || !request.url?.startsWith('/v1/')) return next.handle();
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ?? {}) as Record<string, unknown>;
    const reads = new Set(Object.keys(args).map((key) => Number(key.split(':')[0])));
    const errors: FieldError[] = [];
    if (!reads.has(RouteParamtypes.QUERY)) {
      for (const field of Object.keys(request.query ?? {})) errors.push({ field, message: `unknown field ${field}` });
    }
    const body = request.body;
    if (!reads.has(RouteParamtypes.BODY) && body !== undefined && body !== null) {
      if (typeof body === 'object' && !Array.isArray(body)) {
        for (const field of Object.keys(body)) errors.push({ field, message: `unknown field ${field}` });
      } else {
        errors.push({ field: 'body', message: 'this operation takes no body' });
      }
    }
    if (errors.length > 0) throw AppError.validation(errors);
    return next.handle();
  }
}
