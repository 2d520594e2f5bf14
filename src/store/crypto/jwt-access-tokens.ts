import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { AccessTokens, TokenClaims } from '../../core/authentication.ts';
import { FaceproofError } from '../../core/errors.ts';
import { isScope, type Scope } from '../../core/scopes.ts';

const ISSUER = 'faceproof';
const AUDIENCE = 'faceproof-api';

/**
 * HS256 JWTs under a random server secret kept in a file of the data folder, or, when several nodes
 * serve one database, in that database (src/store/postgres/secrets.ts) so that a token issued by
 * one node verifies on every other. Only the server checks them, so a symmetric key is enough;
 * replacing the secret ends every outstanding token.
 */
export class JwtAccessTokens implements AccessTokens {
  /** `where`: where the secret is kept, named in the error when there is none. */
  private constructor(private readonly secret: Uint8Array | undefined, private readonly where: string) {}

  /**
   * Tokens under a secret the caller holds: the one every node reads from the shared database.
   * Undefined (a CLI command before any server created it): no token is issued, none verifies.
   */
  static fromSecret(secret: Uint8Array | undefined, where = 'the database'): JwtAccessTokens {
    if (secret !== undefined && secret.byteLength < 32) throw new Error('the token secret must be at least 32 bytes (HS256)');
    return new JwtAccessTokens(secret, where);
  }

  /**
   * The secret of `file`; with `create` (the server's start) a missing one is created. Without it
   * (CLI commands and benchmarks) a missing secret is left missing: no token is issued, none verifies.
   */
  static open(file: string, options: { create?: boolean } = {}): JwtAccessTokens {
    if (!fs.existsSync(file)) {
      if (options.create === false) return new JwtAccessTokens(undefined, file);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(`${file}.tmp`, randomBytes(32).toString('base64'), { mode: 0o600 });
      fs.renameSync(`${file}.tmp`, file);
    }
    return new JwtAccessTokens(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'), file);
  }

  async issue(claims: TokenClaims, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    if (!this.secret) throw new Error(`no token secret in ${this.where} (the server creates it at its start)`);
    // JWT times are whole seconds and a token is expired from its `exp` second on. Counted from
    // the next whole second, so that a token lives at least the ttl it was asked for (from the
    // second it was in, a 1 s token could expire a few milliseconds after it was issued), and
    // exp − iat stays the ttl exactly (iDenFace's manual shows 36,000 for its 10 h).
    const iat = Math.ceil(Date.now() / 1000);
    const exp = iat + ttlSeconds;
    const token = await new SignJWT({ client_id: claims.clientId, key_id: claims.keyId, scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(claims.subject ?? claims.clientId)
      .setJti(randomUUID()).setIssuedAt(iat).setExpirationTime(exp)
      .sign(this.secret);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async verify(token: string): Promise<TokenClaims> {
    if (!this.secret) throw new FaceproofError('invalid_credentials', 'the token is not valid');
    try {
      const { payload } = await jwtVerify(token, this.secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], clockTolerance: 0 });
      const scopes = String(payload.scope ?? '').split(' ').filter(isScope) as Scope[];
      if (typeof payload.client_id !== 'string' || typeof payload.key_id !== 'string') throw new FaceproofError('invalid_credentials', 'the token lacks its client');
      return { clientId: payload.client_id, keyId: payload.key_id, scopes, subject: payload.sub };
    } catch (err) {
      if (err instanceof FaceproofError) throw err;
      if (err instanceof errors.JWTExpired) throw new FaceproofError('token_expired', 'the token has expired; request a new one');
      throw new FaceproofError('invalid_credentials', 'the token is not valid');
    }
  }
}
