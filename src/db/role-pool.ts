// Makes a pool's connections act as a given role, paying the SET ROLE once per physical connection.
// Used where the login role is privileged (superuser, BYPASSRLS, or the owner), which would
// skip row-level security: the embedded PGlite, or a direct (unpooled) server URL.
import { INSPECT_CUSTOM } from '../portable-types.js'
import type { DbClient, DbPool, QueryResult, SqlQuery } from './pool.js'

/** The role a connection currently acts as, by client object: null = its login role. */
export type RoleState = WeakMap<object, string | null>

export class RolePool implements DbPool {
  constructor(
    private readonly inner: DbPool,
    /** The role wanted (null: the login role). Read on each checkout, so it may change after migrate. */
    private readonly wantedRole: () => string | null,
    private readonly state: RoleState = new WeakMap(),
    /**
     * Whether protocol-level named (prepared) statements may be used. PgBouncer before 1.21 in
     * transaction mode cannot keep them (the next transaction may land on another server connection).
     */
    private readonly namedStatements = true,
  ) {}

  /** The wrapped pool's options hold the connection string (and its password): never print them. */
  [INSPECT_CUSTOM](): string {
    return `RolePool { role: ${this.wantedRole() ?? '(login role)'} }`
  }

  toJSON(): Record<string, unknown> {
    return { role: this.wantedRole() }
  }

  async connect(): Promise<DbClient> {
    const client = await this.inner.connect()
    const wanted = this.wantedRole()
    const current = this.state.get(client) ?? null
    if (wanted !== current) {
      try {
        // The role name comes from validated configuration (a lower-case identifier), never from a request.
        await client.query(wanted ? `SET ROLE ${wanted}` : 'RESET ROLE')
        this.state.set(client, wanted)
      } catch (err) {
        client.release(err as Error)
        throw err
      }
    }
    return client
  }

  async query<R = Record<string, unknown>>(query: SqlQuery | string): Promise<QueryResult<R>> {
    const client = await this.connect()
    try {
      const result = await client.query<R>(
        !this.namedStatements && typeof query === 'object' && query.name
          ? { ...query, name: undefined }
          : query,
      )
      client.release()
      return result
    } catch (err) {
      client.release(isConnectionLost(err) ? (err as Error) : undefined)
      throw err
    }
  }

  end(): Promise<void> {
    return this.inner.end()
  }
}

function isConnectionLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return !e?.code || e.code.startsWith('08') || e.code.startsWith('57P')
}
