// Microsoft Entra ID driver: Microsoft Graph v1.0 with client credentials (secret or certificate).
// With delta on (the default) the instance keeps the last complete picture and Graph's delta links,
// so an unchanged tenant costs one call per collection; otherwise every fetch is a full read.
import { IdpHttpClient } from '../http.js';
import { TokenCache } from '../token.js';
import { verifyOptions, type DriverContext, type FetchOptions, type ProviderDriver, type VerifyOptions, type VerifyResult } from '../types.js';
import { type DirectorySnapshot } from '../../directory/snapshot.js';
import { failedCheck, runProbes, type Probe } from '../verify.js';
import { StallError } from '../../errors.js';
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
      rateLimits: ctx.rateLimits,
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
    const picture = await syncDelta(graph, options.complete ? undefined : this.picture, signal);
    const directory = buildDirectory(picture.state, assignments);
    this.picture = picture;
    return {
      ...directory,
      apiCalls: this.http.calls - callsBefore,
      cursor: { usersDeltaLink: picture.links.users, groupsDeltaLink: picture.links.groups },
    };
  }

  async verify(options?: VerifyOptions | AbortSignal): Promise<VerifyResult> {
    let connected: Connected;
    try {
      connected = await this.connect();
    } catch (err) {
      if (err instanceof StallError) return { ok: false, checks: [failedCheck('configuration', err)] };
      throw err;
    }
    const { config, tokens, graph } = connected;
    let firstGroupId: string | undefined;
    const read = (path: string, permission: GraphPermission, onFirst?: (id: string | undefined) => void): Probe => ({
      name: `GET /v1.0${path}`,
      permission,
      run: async (signal) => {
        const page = await graph.page<{ id: string }>(graph.url(path, { $select: 'id', $top: '1' }), permission, signal);
        onFirst?.(page.value[0]?.id);
      },
    });
    const probes: Probe[] = [
      { name: `POST ${config.tokenEndpoint}`, required: true, run: async () => void (await tokens.get()) },
      read('/users', 'User.Read.All'),
      read('/groups', 'GroupMember.Read.All', (id) => (firstGroupId = id)),
      {
        name: () => `GET /v1.0/groups/${encodeURIComponent(firstGroupId!)}/members`,
        permission: 'GroupMember.Read.All',
        onlyIf: () => firstGroupId !== undefined,
        run: async (signal) => {
          await graph.page(graph.url(`/groups/${encodeURIComponent(firstGroupId!)}/members`, { $select: 'id', $top: '1' }), 'GroupMember.Read.All', signal);
        },
      },
      {
        name: 'GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo',
        permission: 'Application.Read.All',
        onlyIf: () => config.groups === 'AssignedToApp',
        run: async (signal) => void (await readAssignments(graph, config.appId, signal)),
      },
    ];
    return runProbes(probes, { signal: verifyOptions(options).signal });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

export const createEntraDriver = (ctx: DriverContext<EntraSettingsInput>): ProviderDriver => new EntraDriver(ctx);
