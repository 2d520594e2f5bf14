import { openPostgres } from './database.ts';
import { PostgresBlobStore } from './blob-store.ts';
import { PgImageRepository } from './image-repository.ts';
import { PgFileRepository } from './file-repository.ts';
import { PgCollectionRepository } from './collection-repository.ts';
import { PgUserRepository } from './user-repository.ts';
import { PgSessionRepository } from './session-repository.ts';
import { PgClientRepository } from './client-repository.ts';
import { PgReplayGuard } from './replay-guard.ts';
import { PgAuditRepository } from './audit-repository.ts';
import { PgTransactionRepository } from './transaction-repository.ts';
import { PgUsageRepository } from './usage-repository.ts';
import { PgClientSettingsRepository, PgRequestRecordRepository } from './request-record-repository.ts';
import { PgTrustAnchorRepository } from './trust-anchor-repository.ts';
import { PgVerifiedChipRepository } from './verified-chip-repository.ts';
import type { Store } from '../open-store.ts';
import { PgSigningKeys } from './signing-keys.ts';
import { PgSecrets } from './secrets.ts';
import { PgRateBuckets } from './rate-buckets.ts';
import { PgChallengeStore } from './challenge-store.ts';

/** First half of the two-int advisory locks taken by `exclusively` ("fpex"), apart from the migrations' one bigint key. */
const EXCLUSIVE_NAMESPACE = 0x66706578;

/** The access-token secret's name among the database's secrets. */
const TOKEN_SECRET = 'token-hs256';

/** The store of a multi-node deployment: every repository and the blobs on one PostgreSQL database (see openStore). */
export async function openPostgresStore(url: string, applicationName: string): Promise<Store> {
  const db = await openPostgres(url, { applicationName });
  return {
    database: { kind: 'postgres', postgres: db },
    blobs: new PostgresBlobStore(db),
    shared: {
      signingKeys: (keyring, { create }) => PgSigningKeys.open(db, keyring, { create }),
      tokenSecret: (keyring, { create }) => (create ? new PgSecrets(db, keyring).getOrCreate(TOKEN_SECRET) : new PgSecrets(db, keyring).get(TOKEN_SECRET)),
      rateBuckets: new PgRateBuckets(db),
      challenges: new PgChallengeStore(db),
    },
    repositories: (codec) => ({
      images: new PgImageRepository(db),
      files: new PgFileRepository(db),
      collections: new PgCollectionRepository(db, codec),
      users: new PgUserRepository(db, codec),
      sessions: new PgSessionRepository(db, codec),
      clients: new PgClientRepository(db),
      replays: new PgReplayGuard(db),
      audit: new PgAuditRepository(db),
      transactions: new PgTransactionRepository(db),
      usage: new PgUsageRepository(db),
      requestRecords: new PgRequestRecordRepository(db),
      clientSettings: new PgClientSettingsRepository(db),
      trustAnchors: new PgTrustAnchorRepository(db),
      verifiedChips: new PgVerifiedChipRepository(db),
    }),
    ping: async () => (await db.query('SELECT 1 AS ok')).rowCount === 1,
    // A transaction-scoped advisory lock, held by this transaction's connection while the task runs
    // on others, and released by the commit even if the node dies (its connection closes).
    exclusively: (name, task) => db.transaction(async (tx) => {
      const { rows } = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1::int, hashtext($2)) AS got', [EXCLUSIVE_NAMESPACE, name]);
      return rows[0].got ? task() : undefined;
    }, { attempts: 1 }),
    close: () => db.close(),
  };
}
