import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiAccess } from '../common/http/api-docs.js';
import type { ApiKeyScope } from './api-key.js';

export const ACCESS_METADATA = 'trailmark:access';

/**
 * Who may call a route. Every route declares one; a route without it is admin-only.
 * - `public`: anyone (health, metrics, docs).
 * - `admin`: the service's admin key only.
 * - `project`: the admin key, or a key of the project in the path with the scope (a key with the
 *   `admin` scope holds every scope of its own project); `scope: 'any'` accepts any of its keys.
 * The same decorator documents the rule in the OpenAPI document (see ApiAccess), so what the
 * guard enforces and what the document says come from one declaration.
 */
export type AccessRule = { kind: 'public' } | { kind: 'admin' } | { kind: 'project'; scope: ApiKeyScope | 'any' };

const access = (rule: AccessRule) => applyDecorators(SetMetadata(ACCESS_METADATA, rule), ApiAccess(rule));

export const Public = () => access({ kind: 'public' });
export const AdminOnly = () => access({ kind: 'admin' });
export const ProjectAccess = (scope: ApiKeyScope | 'any') => access({ kind: 'project', scope });

export type Principal = { kind: 'admin' } | { kind: 'project'; projectId: string; keyId: string; scopes: ApiKeyScope[] };
