import { canonicalJson } from './canonical-json.ts';

/** A JSON Web Key Set of public keys (RFC 7517). */
export interface PublicKeySet {
  keys: Array<Record<string, unknown> & { kid: string; alg: string }>;
}

/**
 * Signs decisions so they can be proven later: a compact JWS with a detached payload (RFC 7515
 * appendix F) whose payload is the response body without `signature`, canonicalised (RFC 8785).
 */
export interface ResultSigner {
  /** `header..signature` over `payload`. */
  signDetached(payload: Uint8Array): Promise<string>;
  /** Every public key whose signatures may still be checked, the active one first. */
  publicKeys(): PublicKeySet;
}

/** The bytes a response's signature covers: the body without its `signature` member, canonicalised. */
export function signedPayload(body: Record<string, unknown>): Uint8Array {
  const { signature: _signature, ...rest } = body;
  return new TextEncoder().encode(canonicalJson(rest));
}

export interface SignatureCheck {
  valid: boolean;
  kid?: string;
  alg?: string;
  reason?: string;
}

/** Checks a saved response's `signature` against a key set, offline. */
export async function verifySignedResponse(body: Record<string, unknown>, keySet: PublicKeySet): Promise<SignatureCheck> {
  const { base64url, compactVerify, decodeProtectedHeader, importJWK } = await import('jose');
  const signature = body.signature;
  if (typeof signature !== 'string') return { valid: false, reason: 'the response has no signature' };
  const [header, detached, sig] = signature.split('.');
  if (header === undefined || detached !== '' || sig === undefined) return { valid: false, reason: 'the signature is not a compact JWS with a detached payload' };
  let kid: string | undefined, alg: string | undefined;
  try {
    ({ kid, alg } = decodeProtectedHeader(signature));
  } catch {
    return { valid: false, reason: 'the signature header cannot be read' };
  }
  const jwk = keySet.keys.find((k) => k.kid === kid);
  if (!jwk || !alg) return { valid: false, kid, alg, reason: `no public key with kid ${kid}` };
  // jose's base64url rather than Buffer: the typed client runs this same check in browsers.
  const payload = base64url.encode(signedPayload(body));
  try {
    await compactVerify(`${header}.${payload}.${sig}`, await importJWK(jwk, alg), { algorithms: [alg] });
    return { valid: true, kid, alg };
  } catch {
    return { valid: false, kid, alg, reason: 'the signature does not match this body' };
  }
}
