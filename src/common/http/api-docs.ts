import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, getSchemaPath, type OpenAPIObject, type OperationObject, type ResponseObject } from '@nestjs/swagger';
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
      // No `type`: with one, @nestjs/swagger documents the answer as application/json and drops
      // the content given. ProblemDto is registered through createDocument's extraModels.
      ApiResponse({ status, description: statusCodes.map(problemLine).join('; '), content: problemContent() }),
    ),
  );
}

/** An API-key route: bearer auth plus its 401/403 problems and any others named. */
export function ApiKeyAuth(...codes: ErrorCode[]) {
  return applyDecorators(ApiBearerAuth(), ApiProblems('UNAUTHENTICATED', 'FORBIDDEN', 'VALIDATION_FAILED', ...codes));
}

/**
 * What a route that reads a JSON body can answer before any of our code runs: Fastify parses the
 * body (with the parsers set in configureApp) ahead of guards, pipes and handlers.
 */
const BODY_PROBLEMS: readonly ErrorCode[] = ['MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

/**
 * Adds to the document @nestjs/swagger built what holds for whole classes of operations rather
 * than for one route: every operation with a request body gets the body problems.
 */
export function completeOpenApiDocument(document: OpenAPIObject): OpenAPIObject {
  for (const operation of operationsOf(document)) {
    if (operation.requestBody) addProblems(operation, BODY_PROBLEMS);
  }
  return document;
}

function operationsOf(document: OpenAPIObject): OperationObject[] {
  const methods = ['get', 'put', 'post', 'delete', 'patch'] as const;
  return Object.values(document.paths).flatMap((item) => methods.flatMap((method) => item[method] ?? []));
}

/** Adds each code to the problem response of its status, creating it when the operation has none. */
function addProblems(operation: OperationObject, codes: readonly ErrorCode[]): void {
  for (const code of codes) {
    const status = String(ERROR_CATALOGUE[code].status);
    const response = operation.responses[status] as ResponseObject | undefined;
    if (!response) operation.responses[status] = { description: problemLine(code), content: problemContent() };
    else if (!response.description.includes(`\`${code}\``)) response.description += `; ${problemLine(code)}`;
  }
}

function problemLine(code: ErrorCode): string {
  return `\`${code}\`: ${ERROR_CATALOGUE[code].title}`;
}

function problemContent() {
  return { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } };
}
