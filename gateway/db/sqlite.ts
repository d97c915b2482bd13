import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Database = BetterSqlite3.Database;

export type DatabaseErrorCode = 'TRY_ERR_DB_OPEN' | 'TRY_ERR_DB_TOO_NEW' | 'TRY_ERR_DB_UNKNOWN_MIGRATION' | 'TRY_ERR_DB_MIGRATION';

/** I/O and schema-version problems, translated at this boundary so callers key on a stable code. */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  constructor(
    readonly code: DatabaseErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function databasePath(dataDir: string): string {
  return join(dataDir, 'tryggheim.sqlite');
}

/** Opens (creating if needed) the gateway database and brings its schema up to date. */
export function openDatabase(path: string, opts: { migrations?: readonly Migration[] } = {}): Database {
  let db: Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    db = new BetterSqlite3(path);
    // busy_timeout first: switching to WAL needs a lock that a running gateway may briefly hold.
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // NORMAL under WAL cannot corrupt the database; a power cut may lose the last commits, and the
    // gateway's journal (not this database) is what protects accepted messages.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (cause) {
    throw new DatabaseError('TRY_ERR_DB_OPEN', `cannot open database ${path}: ${describe(cause)}`, { cause });
  }
  try {
    migrate(db, opts);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export interface MigrationReport {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly number[];
}

/**
 * Applies every migration the database has not recorded, each in its own IMMEDIATE transaction so that
 * two processes starting together (gateway and CLI) cannot both apply one. Refuses a database written by
 * a newer Tryggheim: running old code against a newer schema would corrupt it quietly.
 */
export function migrate(db: Database, opts: { migrations?: readonly Migration[]; now?: () => Date } = {}): MigrationReport {
  const { migrations = MIGRATIONS, now = () => new Date() } = opts;
  assertOrdered(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);

  const known = new Set(migrations.map((m) => m.version));
  const latest = migrations.at(-1)?.version ?? 0;
  const appliedVersions = (): number[] => db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];

  const before = appliedVersions();
  const from = before.at(-1) ?? 0;
  if (from > latest) {
    throw new DatabaseError(
      'TRY_ERR_DB_TOO_NEW',
      `database schema is at version ${from} but this Tryggheim knows only up to ${latest}; upgrade Tryggheim or restore a matching backup`,
    );
  }
  const stranger = before.find((v) => !known.has(v));
  if (stranger !== undefined) {
    throw new DatabaseError(
      'TRY_ERR_DB_UNKNOWN_MIGRATION',
      `database has migration ${stranger} applied, which this Tryggheim does not know`,
    );
  }

  const isApplied = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: number[] = [];
  for (const m of migrations) {
    if (before.includes(m.version)) continue;
    const apply = db.transaction(() => {
      // Re-checked under the write lock: another process may have applied it since we looked.
      if (isApplied.get(m.version) !== undefined) return false;
      db.exec(m.up);
      // With foreign keys off nothing checked the rebuilt tables' references: check them before committing.
      if (m.rebuildsTables === true && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
        throw new Error('foreign key check failed after rebuilding tables');
      }
      record.run(m.version, m.name, now().toISOString());
      return true;
    });
    // foreign_keys cannot change inside a transaction, and it is per connection: off for this one migration only.
    const fkWasOn = m.rebuildsTables === true && db.pragma('foreign_keys', { simple: true }) === 1;
    if (fkWasOn) db.pragma('foreign_keys = OFF');
    try {
      if (apply.immediate()) applied.push(m.version);
    } catch (cause) {
      throw new DatabaseError('TRY_ERR_DB_MIGRATION', `migration ${m.version} (${m.name}) failed: ${describe(cause)}`, { cause });
    } finally {
      if (fkWasOn) db.pragma('foreign_keys = ON');
    }
  }
  return { from, to: Math.max(from, latest), applied };
}

/** The highest migration recorded in the database (0 for a fresh one). */
export function schemaVersion(db: Database): number {
  const v = db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null | undefined;
  return v ?? 0;
}

function assertOrdered(migrations: readonly Migration[]): void {
  let previous = 0;
  for (const m of migrations) {
    // A bug in the list, not a runtime condition: fail loudly.
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new Error(`migrations must have strictly increasing positive integer versions (at ${m.version}, ${m.name})`);
    }
    previous = m.version;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The SQLite result code (e.g. `SQLITE_CONSTRAINT_PRIMARYKEY`) when err came from SQLite, else undefined. */
export function sqliteErrorCode(err: unknown): string | undefined {
  return err instanceof BetterSqlite3.SqliteError ? err.code : undefined;
}
