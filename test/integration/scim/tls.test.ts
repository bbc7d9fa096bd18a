// The SCIM server over HTTPS with certificate files, as cert-manager mounts them, renewed without a restart.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { ScimServer } from '../../../src/scim/server.js';
import { ScimStore } from '../../../src/scim/store.js';
import { TokenStore } from '../../../src/scim/tokens.js';
import { ScimDirectories } from '../../../src/scim/directories.js';
import { selfSignedCertificate } from '../../support/tls.js';
import { MemorySecrets } from './harness.js';

/** The fingerprint of the certificate the server presents, trusting only `ca`. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: undefined }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

describe('scim/ScimServer over HTTPS', function () {
  const first = selfSignedCertificate();
  const second = selfSignedCertificate();
  let dir: string;
  let server: ScimServer;

  before(function () {
    if (!first || !second) this.skip();
  });

  afterEach(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the mounted certificate, and the renewed one after a reload, without a restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'idpsync-scim-tls-'));
    const tls = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    writeFileSync(tls.certFile, first!.cert);
    writeFileSync(tls.keyFile, first!.key);
    const secrets = new MemorySecrets();
    const store = new ScimStore({ kube: secrets, directoryOwner: async () => undefined });
    const tokens = new TokenStore(secrets);
    const directories = new ScimDirectories({ tokens, store, list: () => [], get: () => undefined });
    server = new ScimServer({ host: '127.0.0.1', port: 0, tls, directories, tokens, store, onChange: () => {} });
    const port = await server.listen();

    expect(await servedFingerprint(port, first!.cert)).to.equal(new X509Certificate(first!.cert).fingerprint256);
    const plain = await fetch(`http://127.0.0.1:${port}/scim/v2/team/corp/Users`).then((r) => r.status, () => 0);
    expect(plain, 'plain HTTP is not served on the TLS port').to.not.equal(200);

    writeFileSync(tls.certFile, second!.cert);
    writeFileSync(tls.keyFile, second!.key);
    server.reloadTls();
    expect(await servedFingerprint(port, second!.cert)).to.equal(new X509Certificate(second!.cert).fingerprint256);
  });
});
