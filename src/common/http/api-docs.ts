import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtension,
  ApiResponse,
  getSchemaPath,
  type OpenAPIObject,
  type OperationObject,
  type ResponseObject,
  type SchemaObject,
} from '@nestjs/swagger';
import type { AccessRule } from '../../auth/access.decorators.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/error-catalogue.js';
import { ProblemDto } from '../errors/problem.dto.js';
import { PROBLEM_MEDIA_TYPE } from '../errors/problem.filter.js';

/**
 * Documents the problem answers a route can give: one response per status, listing its codes.
 * The access decorators add 401 and 403 to authenticated routes.
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

/**
 * The OpenAPI extension on every operation that says what it needs: `none` (public), `admin-key`
 * (the service's admin key only), or what a key of the project in the path needs: a scope
 * (`ingest`, `read`, `admin`) or `any` of its keys. The admin key may call every operation.
 */
export const REQUIRED_SCOPE = 'x-required-scope';
export type RequiredScope = 'none' | 'admin-key' | Extract<AccessRule, { kind: 'project' }>['scope'];

/** The same, in words at the end of each operation's summary. */
const REQUIRED_SCOPE_WORDS: Record<RequiredScope, string> = {
  none: 'no key',
  'admin-key': 'admin key',
  any: 'any key of the project',
  ingest: 'ingest scope',
  read: 'read scope',
  admin: 'admin scope',
};

/**
 * Documents an access rule; applied by the access decorators (Public, AdminOnly, ProjectAccess)
 * with the rule itself, never on its own. An authenticated route gets the bearer security
 * requirement, its REQUIRED_SCOPE and its 401 and 403 problems.
 */
export function ApiAccess(rule: AccessRule) {
  const scope: RequiredScope = rule.kind === 'public' ? 'none' : rule.kind === 'admin' ? 'admin-key' : rule.scope;
  if (scope === 'none') return ApiExtension(REQUIRED_SCOPE, scope);
  return applyDecorators(ApiExtension(REQUIRED_SCOPE, scope), ApiBearerAuth(), ApiProblems('UNAUTHENTICATED', 'FORBIDDEN'));
}

/**
 * What a route that reads a JSON body can answer before any of our code runs: Fastify parses the
 * body (with the parsers set in configureApp) ahead of guards, pipes and handlers.
 */
const BODY_PROBLEMS: readonly ErrorCode[] = ['MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
/** Any operation may answer these: an unexpected failure, and the database out of reach (retry). */
const EVERY_OPERATION_PROBLEMS: readonly ErrorCode[] = ['INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'];

/**
 * Adds to the document @nestjs/swagger built what holds for whole classes of operations rather
 * than for one route: every operation with a request body gets the body problems, every summary
 * ends with its REQUIRED_SCOPE in words (done here, not by the decorator, so that it does not
 * depend on the order of decorators), public operations get an empty security requirement, and
 * nullable references are made to admit null.
 */
export function completeOpenApiDocument(document: OpenAPIObject): OpenAPIObject {
  for (const operation of operationsOf(document)) {
    if (operation.requestBody) addProblems(operation, BODY_PROBLEMS);
    addProblems(operation, EVERY_OPERATION_PROBLEMS);
    const scope = (operation as { [REQUIRED_SCOPE]?: RequiredScope })[REQUIRED_SCOPE];
    if (scope) operation.summary = `${operation.summary ?? ''} (${REQUIRED_SCOPE_WORDS[scope]})`.trimStart();
    // A public operation says so with an empty security requirement; @nestjs/swagger drops an
    // empty one, so it is set here.
    if (scope === 'none') operation.security = [];
  }
  rewriteNullableReferences(document);
  return document;
}

/**
 * @nestjs/swagger documents `@ApiProperty({ type: SomeDto, nullable: true })` as
 * `{ nullable: true, type: 'object', allOf: [{ $ref }] }`, which rejects null: in OpenAPI 3.0
 * `nullable` widens only the `type` beside it, and the `allOf` still demands the object. Each
 * becomes `oneOf` the object or a schema that admits only null, which strict validators accept
 * for both and openapi-typescript reads as `SomeDto | null`.
 */
function rewriteNullableReferences(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(rewriteNullableReferences);
  if (!node || typeof node !== 'object') return;
  const schema = node as SchemaObject;
  const reference = schema.allOf?.length === 1 && '$ref' in schema.allOf[0] ? schema.allOf[0] : undefined;
  if (schema.nullable === true && reference && schema.properties === undefined) {
    delete schema.nullable;
    delete schema.type;
    delete schema.allOf;
    schema.oneOf = [reference, { type: 'object', nullable: true, enum: [null] }];
    return;
  }
  Object.values(node).forEach(rewriteNullableReferences);
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
