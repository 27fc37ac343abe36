import { Inject, Injectable } from '@nestjs/common';
import type { Principal } from './access.decorators.js';
import { parseApiKey, secretMatches, sha256 } from './api-key.js';
import { ApiKeysRepository } from './api-keys.repository.js';

export const ADMIN_API_KEY = Symbol('ADMIN_API_KEY');

/** Turns a presented bearer key into who is calling, or nothing when the key is not valid. */
@Injectable()
export class AuthService {
  private readonly adminKeyHash: Buffer;

  constructor(
    private readonly keys: ApiKeysRepository,
    @Inject(ADMIN_API_KEY) adminApiKey: string,
  ) {
    this.adminKeyHash = sha256(adminApiKey);
  }

  async authenticate(presented: string): Promise<Principal | undefined> {
    if (secretMatches(presented, this.adminKeyHash)) return { kind: 'admin' };
    const parsed = parseApiKey(presented);
    if (!parsed) return undefined;
    for (const candidate of await this.keys.findLiveByPrefix(parsed.prefix)) {
      if (secretMatches(parsed.secret, candidate.secretHash)) {
        return { kind: 'project', projectId: candidate.projectId, keyId: candidate.id, scopes: candidate.scopes };
      }
    }
    return undefined;
  }
}
