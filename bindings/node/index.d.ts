/** Anything that loads a SQLite extension the way better-sqlite3's Database does. */
export interface ExtensionLoader {
    loadExtension(path: string, entryPoint?: string): unknown;
}

/** Absolute path of the eskit.so shipped in this package. */
export function path(): string;

/** Loads eskit into `db` (a better-sqlite3 Database) and returns `db`. */
export function load<T extends ExtensionLoader>(db: T): T;

/** The package version, the same as `SELECT es_version()`. */
export const version: string;

/** The stable eskit error codes that start its error messages. */
export type ErrorCode =
    'conflict' | 'duplicate_event' | 'archived' | 'tombstoned' | 'not_found' | 'invalid_argument';
export const CODES: readonly ErrorCode[];

/** The eskit error code that starts `err`'s message ('conflict', ...), or null. */
export function code(err: unknown): ErrorCode | null;
