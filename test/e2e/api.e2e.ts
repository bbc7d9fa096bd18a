// The idpsync.io/v1alpha1 API on a real kube-apiserver: the CRDs install and serve, their
// validation rejects bad objects with messages a person can act on, and the operator's RBAC
// (deploy/rbac.yaml) is enforced.
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { adminKubeConfig, applyYaml, kubectl, newNamespace, operatorKubeConfig } from './harness/index.js';

const GROUP = 'idpsync.io';
const VERSION = 'v1alpha1';
const PLURALS = ['directorysyncs', 'users', 'groups', 'policies'] as const;

function directorySync(namespace: string, name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: `${GROUP}/${VERSION}`, kind: 'DirectorySync', metadata: { name, namespace }, spec });
}

const validOktaSpec = {
  provider: { type: 'okta', okta: { domain: 'example.okta.com', clientId: '0oa1example' } },
  credentialsRef: { name: 'okta-credentials' },
};

function policy(namespace: string, name: string, resources: unknown[]): string {
  return stringify({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'Policy',
    metadata: { name, namespace },
    spec: { group: { name: 'engineering' }, resources },
  });
}

/** Creates the object with kubectl and returns kubectl's complaint; fails the test if it was accepted. */
async function rejection(manifest: string): Promise<string> {
  const result = await kubectl(['create', '-f', '-'], { input: manifest });
  expect(result.code, `expected the apiserver to reject:\n${manifest}\nbut kubectl said: ${result.stdout}`).to.not.equal(0);
  return result.stderr;
}

async function statusCodeOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code !== 'number') throw err;
    return code;
  }
}

describe('idpsync.io/v1alpha1 on a real apiserver', () => {
  let namespace: string;

  before(async () => {
    namespace = await newNamespace('api');
  });

  it('serves the four CRDs, Established and with their names accepted', async () => {
    const crds = adminKubeConfig().makeApiClient(ApiextensionsV1Api);
    for (const plural of PLURALS) {
      const crd = await crds.readCustomResourceDefinition({ name: `${plural}.${GROUP}` });
      const conditions = new Map((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conditions.get('Established'), `${plural} Established`).to.equal('True');
      expect(conditions.get('NamesAccepted'), `${plural} NamesAccepted`).to.equal('True');
      expect(crd.spec.versions.map((v) => v.name)).to.deep.equal([VERSION]);
    }
  });

  it('lists objects of all four kinds with `kubectl get idpsync`', async () => {
    await applyYaml(
      [
        directorySync(namespace, 'corp', validOktaSpec),
        stringify({
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'User',
          metadata: { name: 'ada', namespace },
          spec: { directory: 'corp', idpId: '00u1', login: 'ada@example.com', state: 'Active', groups: ['engineering'] },
        }),
        stringify({
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'Group',
          metadata: { name: 'engineering', namespace },
          spec: {
            directory: 'corp',
            idpId: '00g1',
            displayName: 'Engineering',
            kind: 'Group',
            memberCount: 1,
            directMemberCount: 1,
            members: ['ada@example.com'],
            parents: [],
            children: [],
          },
        }),
        policy(namespace, 'engineering-db', [
          { address: '10.0.0.0/8', ports: ['443', '8000-8100', '65535'], protocols: ['TCP'] },
          { address: '*.corp.example.com' },
          { address: '192.0.2.10', protocols: ['ICMP'] },
        ]),
      ].join('---\n'),
    );

    const listed = await kubectl(['get', 'idpsync', '-n', namespace, '-o', 'name']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout.trim().split('\n').sort()).to.deep.equal([
      'directorysync.idpsync.io/corp',
      'group.idpsync.io/engineering',
      'policy.idpsync.io/engineering-db',
      'user.idpsync.io/ada',
    ]);

    const table = await kubectl(['get', 'users.idpsync.io', '-n', namespace]);
    expect(table.stdout).to.match(/^NAME\s+LOGIN\s+STATE\s+ROLE\s+DIRECTORY\s+AGE/);
    expect(table.stdout).to.match(/\nada\s+ada@example\.com\s+Active\s+corp\s/); // no role yet: status.role is the operator's
  });

  it('defaults a DirectorySync as the operator expects', async () => {
    await applyYaml(directorySync(namespace, 'defaults', validOktaSpec));
    const stored = (await adminKubeConfig()
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'directorysyncs', name: 'defaults' })) as {
      spec: Record<string, any>;
    };
    expect(stored.spec.interval).to.equal('5m');
    expect(stored.spec.suspend).to.equal(false);
    expect(stored.spec.credentialsRef.generateKeyPair).to.equal(false);
    expect(stored.spec.provider.allowInsecureLoopback).to.equal(false);
  });

  describe('rejects an invalid DirectorySync with a readable message', () => {
    it('a Secret in another namespace', async () => {
      const message = await rejection(
        directorySync(namespace, 'cross-ns', { ...validOktaSpec, credentialsRef: { name: 'okta-credentials', namespace: 'kube-system' } }),
      );
      expect(message).to.include('spec.credentialsRef.namespace');
      expect(message).to.include('credentialsRef.namespace is not allowed: the Secret must be in the same namespace as the DirectorySync');
    });

    it('an unknown provider type', async () => {
      const message = await rejection(
        directorySync(namespace, 'unknown', { provider: { type: 'ldap' }, credentialsRef: { name: 'creds' } }),
      );
      expect(message).to.include('spec.provider.type: Unsupported value: "ldap"');
      expect(message).to.include('supported values: "okta", "googleWorkspace", "entra", "jumpcloud"');
    });

    it('provider type okta without its settings block', async () => {
      const message = await rejection(
        directorySync(namespace, 'no-okta-block', { provider: { type: 'okta' }, credentialsRef: { name: 'creds' } }),
      );
      expect(message).to.include('provider.type is okta, so the provider.okta block with its settings is required');
    });

    it('a settings block for a different provider than the type', async () => {
      const message = await rejection(
        directorySync(namespace, 'two-blocks', {
          provider: { type: 'jumpcloud', jumpcloud: {}, okta: { domain: 'example.okta.com', clientId: 'x' } },
          credentialsRef: { name: 'creds' },
        }),
      );
      expect(message).to.include('set exactly one provider settings block, the one named by provider.type');
    });

    it('generateKeyPair with a provider other than okta', async () => {
      const message = await rejection(
        directorySync(namespace, 'keypair', {
          provider: { type: 'entra', entra: { tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555' } },
          credentialsRef: { name: 'entra-credentials', generateKeyPair: true },
        }),
      );
      expect(message).to.include('credentialsRef.generateKeyPair is only supported for provider.type okta');
    });

    it('an interval that is not a duration', async () => {
      const message = await rejection(directorySync(namespace, 'interval', { ...validOktaSpec, interval: '5 minutes' }));
      expect(message).to.include('spec.interval: Invalid value: "5 minutes"');
      expect(message).to.include('must be a duration such as "90s", "5m" or "2h30m"');
    });

    for (const interval of ['0s', '1ms', '59s']) {
      it(`an interval of ${interval}, below the 1m minimum`, async () => {
        const message = await rejection(directorySync(namespace, `short-${interval.replace(/[^a-z0-9]/g, '')}`, { ...validOktaSpec, interval }));
        expect(message).to.include(`spec.interval: Invalid value: "${interval}"`);
        expect(message).to.include('must be at least 1m');
      });
    }

    it('a name longer than 63 characters (it becomes a label value)', async () => {
      const message = await rejection(directorySync(namespace, 'd'.repeat(64), validOktaSpec));
      expect(message).to.include('the name of a DirectorySync must be at most 63 characters');
    });

    it('a plain-http endpoint without allowInsecureLoopback, or off loopback with it', async () => {
      const plain = await rejection(
        directorySync(namespace, 'plain-http', { ...validOktaSpec, provider: { type: 'okta', okta: { domain: 'example.okta.com', clientId: 'x', baseUrl: 'http://127.0.0.1:8080' } } }),
      );
      expect(plain).to.include('provider.okta.baseUrl must be an https:// URL');
      const remote = await rejection(
        directorySync(namespace, 'remote-http', {
          ...validOktaSpec,
          provider: { type: 'googleWorkspace', googleWorkspace: { impersonate: 'admin@example.com', tokenUrl: 'http://tokens.example.com/token' }, allowInsecureLoopback: true },
        }),
      );
      expect(remote).to.include('provider.googleWorkspace.tokenUrl must be an https:// URL; plain http:// is accepted only for a loopback address');
    });

    it('an Okta domain given as a URL', async () => {
      const message = await rejection(
        directorySync(namespace, 'url-domain', {
          ...validOktaSpec,
          provider: { type: 'okta', okta: { domain: 'https://example.okta.com/', clientId: 'x' } },
        }),
      );
      expect(message).to.include('domain is a host name such as your-company.okta.com, without https:// or a path');
    });

    it('an Auth0 block with a plain-http baseUrl, a domain given as a URL, or an unknown group source', async () => {
      const auth0 = (name: string, settings: Record<string, unknown>) =>
        directorySync(namespace, name, { ...validOktaSpec, provider: { type: 'auth0', auth0: { domain: 'acme.us.auth0.com', clientId: 'x', ...settings } } });
      expect(await rejection(auth0('auth0-http', { baseUrl: 'http://127.0.0.1:8080' }))).to.include('provider.auth0.baseUrl must be an https:// URL');
      expect(await rejection(auth0('auth0-url', { domain: 'https://acme.us.auth0.com/' }))).to.include('domain is a host name such as your-tenant.us.auth0.com');
      expect(await rejection(auth0('auth0-groups', { groupsFrom: ['groups'] }))).to.match(/groupsFrom\[0\]: Unsupported value: "groups"/);
    });

    it('a Zitadel baseUrl over plain http off loopback, and a Zitadel block without its projectId', async () => {
      const remote = await rejection(
        directorySync(namespace, 'zitadel-http', {
          ...validOktaSpec,
          provider: { type: 'zitadel', zitadel: { baseUrl: 'http://zitadel.example.com', projectId: '1' }, allowInsecureLoopback: true },
        }),
      );
      expect(remote).to.include('provider.zitadel.baseUrl must be an https:// URL');
      const noProject = await rejection(
        directorySync(namespace, 'zitadel-project', { ...validOktaSpec, provider: { type: 'zitadel', zitadel: { baseUrl: 'https://zitadel.example.com' } } }),
      );
      expect(noProject).to.include('spec.provider.zitadel.projectId: Required value');
    });
  });

  describe('rejects an invalid Policy with a readable message', () => {
    it('a port range that runs backwards', async () => {
      const message = await rejection(policy(namespace, 'backwards', [{ address: '10.1.2.0/24', ports: ['9000-80'] }]));
      expect(message).to.include('ports must be between 1 and 65535, and a range must go from low to high (e.g. 8000-8100)');
    });

    it('a port above 65535', async () => {
      const message = await rejection(policy(namespace, 'too-high', [{ address: '10.1.2.3', ports: ['70000'] }]));
      expect(message).to.include('ports must be between 1 and 65535');
    });

    it('an address that is neither a CIDR, an IP address nor a DNS name', async () => {
      const message = await rejection(policy(namespace, 'bad-address', [{ address: 'db server!' }]));
      expect(message).to.include('spec.resources[0].address');
      expect(message).to.include('address must be a CIDR (10.0.0.0/8), an IP address, or a lower-case DNS name');
    });

    it('an address of digits and dots that is not an IPv4 address', async () => {
      for (const address of ['999.1.1.1', '10.0.0.0/33', '1.2.3']) {
        const message = await rejection(policy(namespace, `not-ip-${address.replace(/[^0-9]/g, '')}`, [{ address }]));
        expect(message, address).to.include('address looks like an IPv4 address or CIDR but is not one');
      }
    });

    it('ports together with ICMP', async () => {
      const message = await rejection(policy(namespace, 'icmp-ports', [{ address: '10.0.0.1', ports: ['22'], protocols: ['TCP', 'ICMP'] }]));
      expect(message).to.include('ports cannot be combined with the ICMP protocol');
    });
  });

  describe('the operator ServiceAccount (deploy/rbac.yaml)', () => {
    let operator: KubeConfig;

    before(async () => {
      operator = await operatorKubeConfig();
    });

    it('can list Users in every namespace', async () => {
      const list = (await operator
        .makeApiClient(CustomObjectsApi)
        .listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'users' })) as { items: { metadata: { name: string; namespace: string } }[] };
      expect(list.items.map((u) => `${u.metadata.namespace}/${u.metadata.name}`)).to.include(`${namespace}/ada`);
    });

    it('cannot list Secrets, in one namespace or in all', async () => {
      const core = operator.makeApiClient(CoreV1Api);
      expect(await statusCodeOf(core.listNamespacedSecret({ namespace }))).to.equal(403);
      expect(await statusCodeOf(core.listSecretForAllNamespaces())).to.equal(403);
    });

    it('cannot delete a namespace', async () => {
      const core = operator.makeApiClient(CoreV1Api);
      expect(await statusCodeOf(core.deleteNamespace({ name: namespace }))).to.equal(403);
      expect((await adminKubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: namespace })).status?.phase).to.equal('Active');
    });

    it('is who the apiserver says it is', async () => {
      const whoami = await kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: operator });
      expect(whoami.code, whoami.stderr).to.equal(0);
      expect(whoami.stdout).to.equal('system:serviceaccount:idpsync-system:idpsync');
    });
  });
});
