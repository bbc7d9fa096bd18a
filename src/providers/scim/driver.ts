// The scim "provider": the IdP pushes users and groups to the operator's SCIM server, which keeps them in
// a store Secret; fetch() reads that store as a complete snapshot, so pushed changes go through the same
// decide() as a pull sync (suspensions, soft deletion with retention, nested groups, revocation records).
import { StallError } from '../../errors.js';
import { getAttr, type Json } from '../../scim/attributes.js';
import type { ScimDocument } from '../../scim/store.js';
import { KnownPeople } from '../members.js';
import type { DriverFactory, ProviderDriver } from '../types.js';
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../directory/snapshot.js';

export type ScimSettings = Record<string, never>;

/** What the driver needs from the running SCIM server; absent when the operator runs without one. */
export interface ScimBackend {
  directoryForToken(token: string): Promise<{ namespace: string; name: string } | undefined>;
  read(namespace: string, name: string): Promise<ScimDocument>;
}

export function createScimDriverFactory(backend: ScimBackend | undefined): DriverFactory<ScimSettings> {
  return (ctx) => new ScimDriver(backend, ctx.credentials.token, ctx.directory);
}

/** The registry's default: without a SCIM server there is nothing to read. */
export const createScimDriver: DriverFactory<ScimSettings> = createScimDriverFactory(undefined);

class ScimDriver implements ProviderDriver {
  readonly type = 'scim';

  constructor(
    private readonly backend: ScimBackend | undefined,
    private readonly token: string | undefined,
    private readonly served?: { namespace: string; name: string },
  ) {}

  async fetch(): Promise<DirectorySnapshot> {
    const { namespace, name } = await this.directory();
    return snapshotOf(await this.backend!.read(namespace, name));
  }

  async verify() {
    try {
      const { namespace, name } = await this.directory();
      await this.backend!.read(namespace, name);
      return { ok: true, checks: [{ name: 'scim.store.read', ok: true }] };
    } catch (err) {
      if (err instanceof StallError) return { ok: false, checks: [{ name: 'scim.token', ok: false, message: err.message }] };
      throw err;
    }
  }

  private async directory(): Promise<{ namespace: string; name: string }> {
    if (!this.backend) throw new StallError('UnsupportedProvider', 'provider.type scim needs the operator to run its SCIM server (--scim-bind-address)');
    if (this.served) return this.served;
    if (!this.token) throw new StallError('InvalidConfiguration', 'the Secret named in credentialsRef has no "token": name the <name>-scim-token Secret the operator creates');
    const found = await this.backend.directoryForToken(this.token);
    if (!found) throw new StallError('InvalidConfiguration', 'the "token" in the Secret named in credentialsRef is not the SCIM token of exactly one scim DirectorySync: name the <name>-scim-token Secret');
    return found;
  }
}

export function snapshotOf(doc: ScimDocument): DirectorySnapshot {
  const people = new KnownPeople(doc.users.map((u) => u.id));
  const groupIds = new Set(doc.groups.map((g) => g.id));
  const users: DirectoryUser[] = doc.users.map((u) => {
    const active = getAttr(u, 'active') !== false;
    return {
      id: u.id,
      login: String(getAttr(u, 'userName')),
      email: primaryEmail(u),
      displayName: displayNameOf(u),
      state: active ? 'Active' : 'Suspended',
      idpStatus: active ? 'active' : 'inactive',
    };
  });
  const groups: DirectoryGroup[] = doc.groups.map((g) => {
    const members = ((getAttr(g, 'members') as Json[] | undefined) ?? []).map((m) => String(m.value));
    return {
      id: g.id,
      name: String(getAttr(g, 'displayName')),
      kind: 'Group',
      memberUserIds: members.flatMap((id) => people.own(id) ?? []),
      memberGroupIds: members.filter((id) => groupIds.has(id) && id !== g.id),
    };
  });
  return { users, groups, apiCalls: 0 };
}

function primaryEmail(user: Json): string | undefined {
  const emails = getAttr(user, 'emails');
  if (!Array.isArray(emails)) return undefined;
  const chosen = (emails as Json[]).find((e) => e?.primary === true) ?? (emails as Json[]).find((e) => typeof e?.value === 'string');
  return typeof chosen?.value === 'string' ? chosen.value : undefined;
}

function displayNameOf(user: Json): string | undefined {
  const display = getAttr(user, 'displayName');
  if (typeof display === 'string' && display) return display;
  const name = getAttr(user, 'name') as Json | undefined;
  if (!name || typeof name !== 'object') return undefined;
  const formatted = getAttr(name, 'formatted');
  if (typeof formatted === 'string' && formatted) return formatted;
  const parts = [getAttr(name, 'givenName'), getAttr(name, 'familyName')].filter((p) => typeof p === 'string' && p);
  return parts.length ? parts.join(' ') : undefined;
}
