import { SetMetadata } from '@nestjs/common';
import type { ApiKeyScope } from './api-key.js';

export const ACCESS_METADATA = 'trailmark:access';

/**
 * Who may call a route. Every route declares one; a route without it is admin-only.
 * - `public`: anyone (health, metrics, docs).
 * - `admin`: the service's admin key only.
 * - `project`: the admin key, or a key of the project in the path with the scope (a key with the
 *   `admin` scope holds every scope of its own project); `scope: 'any'` accepts any of its keys.
 */
export type AccessRule = { kind: 'public' } | { kind: 'admin' } | { kind: 'project'; scope: ApiKeyScope | 'any' };

export const Public = () => SetMetadata(ACCESS_METADATA, { kind: 'public' } satisfies AccessRule);
export const AdminOnly = () => SetMetadata(ACCESS_METADATA, { kind: 'admin' } satisfies AccessRule);
export const ProjectAccess = (scope: ApiKeyScope | 'any') => SetMetadata(ACCESS_METADATA, { kind: 'project', scope } satisfies AccessRule);

export type Principal = { kind: 'admin' } | { kind: 'project'; projectId: string; keyId: string; scopes: ApiKeyScope[] };
