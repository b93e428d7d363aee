// SQLSTATE codes the project reacts to, named in one place.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  CHECK_VIOLATION: '23514',
  NOT_NULL_VIOLATION: '23502',
  INVALID_TEXT_REPRESENTATION: '22P02',
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  UNTRANSLATABLE_CHARACTER: '22P05',
  INVALID_PARAMETER_VALUE: '22023',
  UNDEFINED_TABLE: '42P01',
  /** The database does not exist (on a replica: not replayed yet). */
  INVALID_CATALOG_NAME: '3D000',
  UNDEFINED_OBJECT: '42704',
  UNDEFINED_FUNCTION: '42883',
  UNDEFINED_COLUMN: '42703',
  INVALID_SCHEMA_NAME: '3F000',
  UNDEFINED_FILE: '58P01',
  INSUFFICIENT_PRIVILEGE: '42501',
  DUPLICATE_OBJECT: '42710',
  QUERY_CANCELED: '57014',
  /** lock_timeout passed, or NOWAIT found the lock taken. */
  LOCK_NOT_AVAILABLE: '55P03',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  /** PostgreSQL 14+: idle_session_timeout closed the connection. */
  IDLE_SESSION_TIMEOUT: '57P05',
  /** idle_in_transaction_session_timeout closed the connection (the transaction was rolled back). */
  IDLE_IN_TRANSACTION_TIMEOUT: '25P03',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  TOO_MANY_CONNECTIONS: '53300',
  INTERNAL_ERROR: 'XX000',
  /** Ours (migration 0003): the merged userMetadata would exceed LIMITS.metadataBytes. */
  METADATA_TOO_LARGE: 'RB413',
  /** 08P01: also what PgBouncer answers to a startup parameter it does not know. */
  PROTOCOL_VIOLATION: '08P01',
  /** Class 08: connection exceptions (08000, 08003, 08006, 08001, 08004, ...). */
  CONNECTION_EXCEPTION_CLASS: '08',
} as const
