// Branches on plain PostgreSQL: CREATE DATABASE <name> TEMPLATE <source>, a file-level copy made by the
// server. PostgreSQL refuses it while any other session is connected to the source, and this command
// never disconnects anyone from the source: it names the sessions in the way instead. Branches are
// marked with a comment on the database, so list and delete only ever see (and drop) branches.
import pg from 'pg'
import { parseUrl, pgUrlOptions, redactUrl } from '../db/urls.js'
import { BranchError, type Brancher, type BranchInfo, checkBranchName } from './types.js'

const MARK = 'robot-brain-db branch '

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`

/** `url` with its database replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = parseUrl(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

interface Mark {
  of: string
  createdAt: string
}

function readMark(comment: string | null): Mark | null {
  if (!comment?.startsWith(MARK)) return null
  try {
    return JSON.parse(comment.slice(MARK.length)) as Mark
  } catch {
    return null
  }
}

export class PostgresBrancher implements Brancher {
  private readonly source: string

  /** `directUrl`: the source's direct URL (as its owner); `appUrl`: the URL the app uses. */
  constructor(
    private readonly directUrl: string,
    private readonly appUrl: string,
  ) {
    this.source = decodeURIComponent(parseUrl(directUrl).pathname.slice(1)) || 'postgres'
  }

  /** A session on the maintenance database: CREATE/DROP DATABASE cannot run connected to the source. */
  private async admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const maintenance = this.source === 'postgres' ? 'template1' : 'postgres'
    const c = new pg.Client({
      ...pgUrlOptions(withDatabase(this.directUrl, maintenance)),
      application_name: 'robot-brain-db branch',
    })
    await c.connect()
    try {
      return await fn(c)
    } finally {
      await c.end()
    }
  }

  private info(name: string, mark: Mark): BranchInfo {
    const url = withDatabase(this.appUrl, name)
    const directUrl = withDatabase(this.directUrl, name)
    return {
      name,
      kind: 'postgres',
      url,
      directUrl: directUrl !== url ? directUrl : undefined,
      source: mark.of,
      createdAt: mark.createdAt,
    }
  }

  private async sessionsOn(c: pg.Client, database: string): Promise<string[]> {
    const { rows } = await c.query<{
      pid: number
      usename: string | null
      app: string
      state: string | null
    }>(
      `SELECT pid, usename, application_name AS app, state FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`,
      [database],
    )
    return rows.map((r) =>
      `pid ${r.pid} ${r.usename ?? '?'}${r.app ? ` (${r.app})` : ''} ${r.state ?? ''}`.trim(),
    )
  }

  async create(name: string, options: { at?: string } = {}): Promise<BranchInfo> {
    checkBranchName(name)
    if (options.at) {
      throw new BranchError(
        '--at (a point-in-time branch) needs Neon; on plain PostgreSQL restore a base backup with archived WAL to that time instead (pgbackrest --stanza=main --type=time --target="..." restore)',
      )
    }
    if (name === this.source) throw new BranchError(`"${name}" is the source database itself`)
    return this.admin(async (c) => {
      const busy = async () => {
        const sessions = await this.sessionsOn(c, this.source)
        return new BranchError(
          `CREATE DATABASE ... TEMPLATE copies "${this.source}" only while no other session is connected to it, and ${sessions.length} ${sessions.length === 1 ? 'is' : 'are'}: ${sessions.join('; ')}. ` +
            'Stop serve and the other clients of this database (this command never disconnects them), then run it again; on Neon, branches need no such pause',
        )
      }
      if ((await this.sessionsOn(c, this.source)).length > 0) throw await busy()
      const createdAt = new Date().toISOString()
      try {
        await c.query(`CREATE DATABASE ${quote(name)} TEMPLATE ${quote(this.source)}`)
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === '55006') throw await busy() // someone connected in between
        if (code === '42P04') throw new BranchError(`a database named "${name}" exists already`)
        if (code === '42501') {
          throw new BranchError(
            `the role of the direct URL may not create databases: ALTER ROLE ... CREATEDB, or branch as a role that may (${(err as Error).message})`,
          )
        }
        throw err
      }
      const mark: Mark = { of: this.source, createdAt }
      await c.query(`COMMENT ON DATABASE ${quote(name)} IS ${pg.escapeLiteral(MARK + JSON.stringify(mark))}`)
      return this.info(name, mark)
    })
  }

  async list(): Promise<BranchInfo[]> {
    return this.admin(async (c) => {
      const { rows } = await c.query<{ name: string; comment: string | null }>(
        `SELECT datname AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database ORDER BY datname`,
      )
      const out: BranchInfo[] = []
      for (const r of rows) {
        const mark = readMark(r.comment)
        if (mark && mark.of === this.source) out.push(this.info(r.name, mark))
      }
      return out
    })
  }

  async delete(name: string, options: { force?: boolean } = {}): Promise<void> {
    checkBranchName(name)
    await this.admin(async (c) => {
      const { rows } = await c.query<{ comment: string | null }>(
        `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
        [name],
      )
      if (rows.length === 0) throw new BranchError(`no branch named "${name}"`)
      const mark = readMark(rows[0]?.comment ?? null)
      if (!mark || mark.of !== this.source) {
        throw new BranchError(
          `"${name}" is not a branch of "${this.source}" made by robot-brain-db branch create: left alone`,
        )
      }
      try {
        await c.query(`DROP DATABASE ${quote(name)}${options.force ? ' WITH (FORCE)' : ''}`)
      } catch (err) {
        if ((err as { code?: string }).code === '55006') {
          const sessions = await this.sessionsOn(c, name)
          throw new BranchError(
            `the branch "${name}" has ${sessions.length} open session(s): ${sessions.join('; ')}. Close them, or pass --force to disconnect them`,
          )
        }
        throw err
      }
    })
  }

  describe(): string {
    return redactUrl(this.directUrl)
  }
}
