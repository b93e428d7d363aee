// The one seam every transport fits: the node-postgres Pool interface, reduced to what the store uses.

export interface SqlQuery {
  text: string
  values?: unknown[]
  /** Protocol-level prepared statement name (works through PgBouncer transaction mode). */
  name?: string
}

export interface QueryResult<R> {
  rows: R[]
  rowCount: number | null
}

export interface Queryable {
  query<R = Record<string, unknown>>(query: SqlQuery | string): Promise<QueryResult<R>>
}

export interface DbClient extends Queryable {
  /** Give the connection back; pass an error (or true) to destroy it instead. */
  release(destroy?: boolean | Error): void
}

export interface DbPool extends Queryable {
  connect(): Promise<DbClient>
  end(): Promise<void>
}

/** The pools a store works with. `owner` runs migrations and maintenance on the direct URL. */
export interface Transport {
  readonly driver: 'pglite' | 'pg' | 'neon'
  /** Application queries, as the runtime role (row-level security applies). */
  readonly app: DbPool
  /** Migrations and maintenance, as the connecting (owner) role, on the direct URL. */
  readonly owner: DbPool
  /** Analytics reads: the read replica when configured, otherwise the app pool. */
  readonly read: DbPool
  /** Whether the app pool goes through a transaction-mode pooler (no session state). */
  readonly pooled: boolean
  /** The app pool is the application's own (openStore({ pool })): no session state, never ended. */
  readonly callerPool?: boolean
  close(): Promise<void>
}

export interface TransactionOptions {
  /** statement_timeout for this transaction only (SET LOCAL), in ms; 0 or absent: the session's. */
  statementTimeoutMs?: number
  /**
   * Settings for this transaction only (SET LOCAL), sent in the BEGIN message. Names and values are
   * the caller's own constants, never user input: they are written into the SQL as they are.
   */
  settings?: Readonly<Record<string, string | number>>
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one connection; rolls back and rethrows on error. A statement
 * timeout and other settings are set with SET LOCAL in the same simple-protocol message as BEGIN: it
 * costs no round trip, ends with the transaction, and so survives a transaction-mode pooler.
 */
export async function withTransaction<T>(
  pool: DbPool,
  fn: (client: DbClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const timeout = options.statementTimeoutMs ?? 0
  if (!Number.isInteger(timeout) || timeout < 0) {
    throw new RangeError('statementTimeoutMs must be a non-negative integer')
  }
  const begin = ['BEGIN']
  if (timeout > 0) begin.push(`SET LOCAL statement_timeout = ${timeout}`)
  for (const [name, value] of Object.entries(options.settings ?? {})) {
    if (!/^[a-z_][a-z0-9_.]*$/.test(name)) throw new RangeError(`not a setting name: ${name}`)
    begin.push(
      `SET LOCAL ${name} = ${typeof value === 'number' ? value : `'${value.replaceAll("'", "''")}'`}`,
    )
  }
  const client = await pool.connect()
  try {
    await client.query(begin.join('; '))
    const result = await fn(client)
    await client.query('COMMIT')
    client.release()
    return result
  } catch (err) {
    try {
      await client.query('ROLLBACK')
      client.release()
    } catch {
      client.release(true)
    }
    throw err
  }
}
