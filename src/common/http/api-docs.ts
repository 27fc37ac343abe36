import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/error-catalogue.js';
import { ProblemDto } from '../errors/problem.dto.js';
import { PROBLEM_MEDIA_TYPE } from '../errors/problem.filter.js';

/**
 * Documents the problem answers a route can give: one response per status, listing its codes.
 * Authenticated routes get 401 and 403 added.
 */
export function ApiProblems(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ...[...byStatus].map(([status, statusCodes]) =>
      ApiResponse({
        status,
        description: statusCodes.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].title}`).join('; '),
        // No `type`: with one, @nestjs/swagger documents the answer as application/json and drops
        // this content. The schema is registered through createDocument's extraModels.
        content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}

/** An API-key route: bearer auth plus its 401/403 problems and any others named. */
export function ApiKeyAuth(...codes: ErrorCode[]) {
  return applyDecorators(ApiBearerAuth(), ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'VALIDATION_FAILED', ...codes));
}
