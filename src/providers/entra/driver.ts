// Microsoft Entra ID driver: Microsoft Graph v1.0 with client credentials (secret or certificate).
// With delta on (the default) the instance keeps the last complete picture and Graph's delta links,
// so an unchanged tenant costs one call per collection; otherwise every fetch is a full read.
import { IdpSyncError } from '../../errors.js';
import { IdpHttpClient } from '../http.js';
import { TokenCache } from '../token.js';
import type { DirectorySnapshot, DriverContext, FetchOptions, ProviderDriver, VerifyCheck, VerifyResult } from '../types.js';
import { createTokenIssuer } from './auth.js';
import { resolveConfig, type EntraConfig, type EntraSettingsInput } from './config.js';
import { GraphClient, graphErrorText, type GraphPermission } from './graph.js';
import { readAssignments, readFull, syncDelta, type DeltaPicture } from './reads.js';
import { buildDirectory } from './state.js';

interface Connected {
  config: EntraConfig;
  tokens: TokenCache;
  graph: GraphClient;
}

export class EntraDriver implements ProviderDriver {
  readonly type = 'entra';
  readonly http: IdpHttpClient;
  private connected?: Promise<Connected>;
  /** The last complete picture and the delta links that continue from it. */
  private picture?: DeltaPicture;

  constructor(private readonly ctx: DriverContext<EntraSettingsInput>) {
    this.http = new IdpHttpClient({
      idpName: 'Entra',
      caBundle: ctx.caBundle,
      allowInsecureLoopback: ctx.allowInsecureLoopback,
      errorText: graphErrorText,
      now: ctx.now,
      sleep: ctx.sleep,
    });
  }

  private connect(): Promise<Connected> {
    this.connected ??= (async () => {
      const config = resolveConfig(this.ctx.settings ?? {}, this.ctx.allowInsecureLoopback);
      const issue = await createTokenIssuer(config, this.ctx.credentials ?? {}, this.http, this.ctx.now);
      const tokens = new TokenCache(issue, this.ctx.now);
      return { config, tokens, graph: new GraphClient(this.http, tokens, config.graphBase, config.graphOrigin) };
    })();
    return this.connected;
  }

  async fetch(options: FetchOptions): Promise<DirectorySnapshot> {
    const { config, graph } = await this.connect();
    const callsBefore = this.http.calls;
    const signal = options.signal;
    const assignments = config.groups === 'AssignedToApp' ? await readAssignments(graph, config.appId, signal) : undefined;

    if (!config.delta) {
      const state = await readFull(graph, signal, assignments?.groupIds);
      return { ...buildDirectory(state, assignments), apiCalls: this.http.calls - callsBefore };
    }
    const picture = await syncDelta(graph, this.picture, signal);
    const directory = buildDirectory(picture.state, assignments);
    this.picture = picture;
    return {
      ...directory,
      apiCalls: this.http.calls - callsBefore,
      cursor: { usersDeltaLink: picture.links.users, groupsDeltaLink: picture.links.groups },
    };
  }

  async verify(signal?: AbortSignal): Promise<VerifyResult> {
    const checks: VerifyCheck[] = [];
    let connected: Connected;
    try {
      connected = await this.connect();
    } catch (err) {
      checks.push(failed('configuration', err));
      return { ok: false, checks };
    }
    const { config, tokens, graph } = connected;

    try {
      await tokens.get();
      checks.push({ name: `POST ${config.tokenEndpoint}`, ok: true });
    } catch (err) {
      checks.push(failed(`POST ${config.tokenEndpoint}`, err));
      return { ok: false, checks };
    }

    const probe = async (path: string, query: Record<string, string>, permission: GraphPermission) => {
      const name = `GET /v1.0${path}`;
      try {
        const page = await graph.page<{ id: string }>(graph.url(path, { ...query, $top: '1' }), permission, signal);
        checks.push({ name, ok: true });
        return page.value;
      } catch (err) {
        checks.push(failed(name, err));
        return undefined;
      }
    };

    await probe('/users', { $select: 'id' }, 'User.Read.All');
    const groups = await probe('/groups', { $select: 'id' }, 'GroupMember.Read.All');
    if (groups?.[0]) {
      await probe(`/groups/${encodeURIComponent(groups[0].id)}/members`, { $select: 'id' }, 'GroupMember.Read.All');
    }
    if (config.groups === 'AssignedToApp') {
      try {
        await readAssignments(graph, config.appId, signal);
        checks.push({ name: 'GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo', ok: true });
      } catch (err) {
        checks.push(failed('GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo', err));
      }
    }
    return { ok: checks.every((c) => c.ok), checks };
  }
}

function failed(name: string, err: unknown): VerifyCheck {
  if (!(err instanceof IdpSyncError)) throw err;
  const missing = (err as { missingPermission?: string }).missingPermission;
  return { name, ok: false, ...(missing ? { missing } : {}), message: err.message };
}

export const createEntraDriver = (ctx: DriverContext<EntraSettingsInput>): ProviderDriver => new EntraDriver(ctx);
