import { randomBytes } from 'node:crypto';
import type { SecretBox } from '../../core/ports.ts';
import type { Queryable } from './database.ts';

/** An ISO timestamp of now, as the rest of the schema writes them. */
const NOW_ISO = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Named server secrets in the shared database (migration 3's `server_secrets`), sealed by the
 * master keyring the server already seals secrets at rest with: every node reads the same value
 * (the access-token key, so a token issued by one node verifies on all), and a copy of the
 * database without the master key does not give them away.
 */
export class PgSecrets {
  constructor(private readonly db: Queryable, private readonly keyring: SecretBox) {}

  /** The secret called `name`; undefined when none was created yet (read-only callers: CLI commands). */
  async get(name: string): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ sealed: Buffer }>({ name: 'server_secrets_get', text: 'SELECT sealed FROM server_secrets WHERE name = $1', values: [name] });
    return rows[0] && this.keyring.open(rows[0].sealed, purposeOf(name));
  }

  /**
   * The secret called `name`, created with `bytes` random bytes when there is none. Nodes starting
   * together each offer one; the first insert wins (ON CONFLICT DO NOTHING) and every node then
   * reads the winner, so all end up with the same secret.
   */
  async getOrCreate(name: string, bytes = 32): Promise<Buffer> {
    const existing = await this.get(name);
    if (existing) return existing;
    await this.db.query({
      name: 'server_secrets_offer',
      text: `INSERT INTO server_secrets (name, sealed, created_at) VALUES ($1, $2, ${NOW_ISO}) ON CONFLICT (name) DO NOTHING`,
      values: [name, this.keyring.seal(randomBytes(bytes), purposeOf(name))],
    });
    const kept = await this.get(name);
    if (!kept) throw new Error(`server secret ${name} was neither created nor found`);
    return kept;
  }
}

/** Bound into the seal, so that one secret's row cannot be passed off as another's. */
const purposeOf = (name: string) => `server-secret:${name}`;
