export { Database, type DatabaseOptions, type IsolationLevel, type Queryable, type QueryResult, type Row, type TransactionOptions } from './database';
export { isCheckViolation, isConnectionError, isForeignKeyViolation, isRetryableTransactionError, isTimeoutError, isUniqueViolation, pgErrorCode, toProtocolError } from './errors';
export { isUuidv7, uuidv7, uuidv7Floor, uuidv7Time } from './ids';
export { loadMigrations, migrate, MigrationError, MIGRATIONS_DIR, type MigrateOptions, type MigrateResult, type Migration } from './migrate';
export { startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions } from './embedded';
export { openDatabase, type OpenDatabaseConfig, type OpenedDatabase } from './open';
