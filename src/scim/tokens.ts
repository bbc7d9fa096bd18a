// Bearer tokens of SCIM directories. Each DirectorySync of type scim has a Secret `<name>-scim-token`
// (key "token", and "previousToken" during a rotation) that the operator creates when none exists.
// A request names its directory in the URL and is checked against that directory's Secret only, so one
// directory's token never opens another.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type * as k8s from '@kubernetes/client-node';
import { LABELS } from '../api/v1alpha1/common.js';
import { isConflict, type KubeClient } from '../kube/client.js';

export const TOKEN_KEY = 'token';
export const PREVIOUS_TOKEN_KEY = 'previousToken';

export function tokenSecretName(directory: string): string {
  return `${directory}-scim-token`;
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Compares hashes so neither the length nor the content of the stored token leaks through timing. */
export function tokenMatches(presented: string, accepted: (string | undefined)[]): boolean {
  const presentedHash = digest(presented);
  let ok = false;
  for (const candidate of accepted) {
    // Every candidate is compared, so the time does not say which one matched.
    const equal = timingSafeEqual(presentedHash, digest(candidate ?? ''));
    ok = (equal && !!candidate) || ok;
  }
  return ok;
}

export type TokenKube = Pick<KubeClient, 'getSecret' | 'createSecret'>;

export interface DirectoryTokens {
  token?: string;
  previousToken?: string;
}

export class TokenStore {
  constructor(private readonly kube: TokenKube) {}

  async read(namespace: string, name: string): Promise<DirectoryTokens> {
    const secret = await this.kube.getSecret(namespace, tokenSecretName(name));
    const decode = (key: string) => {
      const raw = secret?.data?.[key];
      const text = raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8').trim();
      return text ? text : undefined;
    };
    return { token: decode(TOKEN_KEY), previousToken: decode(PREVIOUS_TOKEN_KEY) };
  }

  /** Creates the token Secret with a new token when there is none; true when it did. */
  async ensure(namespace: string, name: string, owner: k8s.V1OwnerReference): Promise<boolean> {
    if (await this.kube.getSecret(namespace, tokenSecretName(name))) return false;
    try {
      await this.kube.createSecret({
        metadata: { name: tokenSecretName(name), namespace, labels: { [LABELS.directory]: name, [LABELS.managedBy]: 'idpsync' }, ownerReferences: [owner] },
        type: 'Opaque',
        stringData: { [TOKEN_KEY]: newToken() },
      });
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // created meanwhile by another replica
      throw err;
    }
  }
}
