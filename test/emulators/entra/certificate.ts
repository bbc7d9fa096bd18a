// A throwaway self-signed certificate and its RSA key, made with the openssl CLI, for certificate
// (private_key_jwt) authentication tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificateCredential {
  certificate: string;
  privateKey: string;
}

export function selfSignedCertificate(commonName = 'idpsync-test'): CertificateCredential {
  const dir = mkdtempSync(join(tmpdir(), 'entra-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${commonName}`],
      { stdio: 'ignore' },
    );
    return { certificate: readFileSync(certPath, 'utf8'), privateKey: readFileSync(keyPath, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
