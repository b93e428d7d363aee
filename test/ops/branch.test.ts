// `robot-brain-db branch` against real databases: on PostgreSQL a CREATE DATABASE ... TEMPLATE copy
// (refused, naming the session, while another session is connected to the source), on the embedded
// database a copy of the data directory (refused while a process has it open). The branch holds the
// source's rows, and writing to it leaves the source as it was.
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/store.js'
import { backend, cli, ensureBuilt, json } from '../cli/cli.js'
import { ADMIN_URL, type FreshDatabase, rawPg } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'

interface Branch {
  name: string
  url?: string
  directUrl?: string
  dataDir?: string
  source: string
}

const SEED = ['seed', '--sessions', '3', '--turns', '2', '--events', '4', '--seed', '7']

describe.runIf(backend === 'pg')('branch on plain PostgreSQL: CREATE DATABASE ... TEMPLATE', () => {
  let db: FreshDatabase
  let env: Record<string, string>
  const name = `rbtest_branch_${randomBytes(4).toString('hex')}`

  async function count(url: string): Promise<number> {
    const c = await rawPg(url)
    try {
      return Number((await c.query('SELECT count(*) AS n FROM robot_brain.conversations')).rows[0].n)
    } finally {
      await c.end()
    }
  }

  beforeAll(async () => {
    await ensureBuilt()
    db = await freshTestDatabase('ops branch', false)
    env = { DATABASE_URL: db.ownerUrl.replace('postgres@', 'postgres:pw-for-branch@') }
    const seeded = await cli(SEED, env)
    expect(seeded.code, seeded.stderr).toBe(0)
  }, 300_000)
  afterAll(async () => {
    const admin = await rawPg(ADMIN_URL)
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end())
    await db?.drop()
  })

  it('refuses while another session is connected to the source, naming it', async () => {
    const other = await rawPg(db.ownerUrl)
    try {
      const pid = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
      const r = await cli(['branch', 'create', name], env)
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        /copies "rbtest_ops_branch_\w+" only while no other session is connected to it, and 1 is: /,
      )
      expect(r.stderr).toContain(`pid ${pid} postgres`)
      expect(r.stderr).toMatch(/never disconnects them/)
    } finally {
      await other.end()
    }
    expect(await count(db.ownerUrl)).toBe(6)
  })

  it('creates a copy, prints its URL, and writing to it leaves the source alone', async () => {
    const r = await cli(['branch', 'create', name], env)
    expect(r.code, r.stderr).toBe(0)
    const url = /^DATABASE_URL=(\S+)$/m.exec(r.stdout)?.[1]
    expect(url).toBe(`postgres://postgres:pw-for-branch@127.0.0.1:5432/${name}`)
    expect(await count(url as string)).toBe(6)
    const c = await rawPg(url as string)
    await c.query('DELETE FROM robot_brain.sessions').finally(() => c.end())
    expect(await count(url as string)).toBe(0)
    expect(await count(db.ownerUrl)).toBe(6)

    const list = await cli(['branch', 'list', '--json'], env)
    const branches = json<Branch[]>(list)
    expect(branches.map((b) => b.name)).toEqual([name])
    expect(branches[0]?.url).toBe(`postgres://postgres:***@127.0.0.1:5432/${name}`)
    expect(list.stdout).not.toContain('pw-for-branch')
  })

  it('deletes only branches, refuses while a session is open on one unless --force; the source is left alone', async () => {
    const source = db.ownerUrl.split('/').pop() as string
    const r = await cli(['branch', 'delete', source], env)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/is not a branch of .* left alone/)
    expect(await count(db.ownerUrl)).toBe(6)
    expect((await cli(['branch', 'create', 'x', '--at', '2026-01-01T00:00:00Z'], env)).stderr).toMatch(
      /--at .* needs Neon/,
    )
    expect((await cli(['branch', 'create', 'Bad Name'], env)).stderr).toMatch(
      /branch name "Bad Name" is not valid/,
    )

    // A session open on the branch: delete refuses and names it; --force disconnects it and drops.
    const open = await rawPg(`postgres://postgres@127.0.0.1:5432/${name}`)
    open.on('error', () => {})
    try {
      const pid = (await open.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
      const refused = await cli(['branch', 'delete', name], env)
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/has 1 open session\(s\): .*pass --force to disconnect them/)
      expect(refused.stderr).toContain(`pid ${pid}`)
      expect(json<Branch[]>(await cli(['branch', 'list', '--json'], env)).map((b) => b.name)).toEqual([name])
      const gone = await cli(['branch', 'delete', name, '--force'], env)
      expect(gone.code, gone.stderr).toBe(0)
      await expect(open.query('SELECT 1')).rejects.toThrow()
    } finally {
      await open.end().catch(() => {})
    }
    const admin = await rawPg(ADMIN_URL)
    const left = await admin
      .query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
      .finally(() => admin.end())
    expect(left.rowCount).toBe(0)
    expect(json<Branch[]>(await cli(['branch', 'list', '--json'], env))).toEqual([])
  })
})

describe.runIf(backend === 'pglite')('branch on the embedded database: a copy of the data directory', () => {
  let db: FreshDatabase
  // Branches go beside the data directory: a directory of this test's own holds both.
  const base = mkdtempSync(join(tmpdir(), 'rbtest-branch-'))
  const dataDir = join(base, 'data')
  const env = () => ({ ROBOT_BRAIN_DATA_DIR: dataDir })

  beforeAll(async () => {
    await ensureBuilt()
    db = await freshTestDatabase('ops branch', true)
    cpSync(db.dataDir as string, dataDir, { recursive: true })
    const seeded = await cli(SEED, env())
    expect(seeded.code, seeded.stderr).toBe(0)
  }, 300_000)
  afterAll(async () => {
    await db?.drop()
    rmSync(base, { recursive: true, force: true })
  })

  const rows = async (dataDir: string) => {
    const r = await cli(['status', '--json'], { ROBOT_BRAIN_DATA_DIR: dataDir })
    return json<{ tables: { conversations: { rows: number } } }>(r).tables.conversations.rows
  }

  it('refuses while a process has the database open', async () => {
    const store = await openStore({ dataDir })
    try {
      const r = await cli(['branch', 'create', 'busy'], env())
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/in use by another process \(pid \d+\)/)
    } finally {
      await store.close()
    }
  })

  it('copies the directory into branches/NAME; the copy is independent', async () => {
    const r = await cli(['branch', 'create', 'trial'], env())
    expect(r.code, r.stderr).toBe(0)
    const dir = /^ROBOT_BRAIN_DATA_DIR=(.+)$/m.exec(r.stdout)?.[1] as string
    expect(dir).toBe(join(base, 'branches', 'trial'))
    expect(await rows(dir)).toBe(6)
    const more = await cli([...SEED.slice(0, -1), '8'], { ROBOT_BRAIN_DATA_DIR: dir })
    expect(more.code, more.stderr).toBe(0)
    expect(await rows(dir)).toBe(12)
    expect(await rows(dataDir)).toBe(6)

    const list = json<Branch[]>(await cli(['branch', 'list', '--json'], env()))
    expect(list.map((b) => [b.name, b.dataDir])).toEqual([['trial', dir]])
    expect((await cli(['branch', 'create', 'trial'], env())).stderr).toMatch(/exists already/)

    const gone = await cli(['branch', 'delete', 'trial'], env())
    expect(gone.code, gone.stderr).toBe(0)
    expect(existsSync(dir)).toBe(false)
    expect(await rows(dataDir)).toBe(6)
  })
})
