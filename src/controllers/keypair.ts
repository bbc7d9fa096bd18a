// "Generate Keypair": the operator creates the private key for private_key_jwt itself, keeps it in a
// Secret it owns, and publishes the public half (JWK and PEM) for the admin to register in the IdP.
import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8 } from 'jose';

export interface PublicKeyInfo {
  jwk: string;
  pem: string;
  keyId: string;
}

export async function generateSigningKey(): Promise<{ privateKeyPem: string; publicKey: PublicKeyInfo }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(publicKey);
  const keyId = await calculateJwkThumbprint(jwk);
  return {
    privateKeyPem: await exportPKCS8(privateKey),
    publicKey: { jwk: JSON.stringify({ ...jwk, kid: keyId, alg: 'RS256', use: 'sig' }), pem: await exportSPKI(publicKey), keyId },
  };
}

/** The public half of a PKCS#8 private key, as published in status. */
export async function publicKeyOf(privateKeyPem: string): Promise<PublicKeyInfo> {
  await importPKCS8(privateKeyPem, 'RS256');
  const publicKey = createPublicKey(privateKeyPem);
  const jwk = await exportJWK(publicKey);
  const keyId = await calculateJwkThumbprint(jwk);
  return {
    jwk: JSON.stringify({ ...jwk, kid: keyId, alg: 'RS256', use: 'sig' }),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId,
  };
}
