// Data survives a restart; an embedded data directory is used by one process at a time (a second
// process gets a clear error, not a corrupted directory), and a crashed holder does not lock it forever.
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import { openStore } from '../../src/store/store.js'
import type { Session, Turn } from '../../src/store/types.js'
import {
  backend,
  DIST_INDEX,
  ensureDist,
  openTestStore,
  runProcess,
  serverBackend,
  spawnProcess,
  storeOptions,
  type TestStore,
  turnInput,
} from '../support/store.js'

// A second process on the compiled package. RB_MODE=try opens and reports; RB_MODE=hold opens, writes
// one turn, says so, and keeps the directory until its stdin closes.
const CHILD = `
const { openStore } = await import(process.env.RB_DIST_URL)
try {
  const store = await openStore({ dataDir: process.env.RB_DIR })
  if (process.env.RB_MODE === 'try') {
    console.log(JSON.stringify({ opened: true }))
    await store.close()
    process.exit(0)
  }
  const turn = await store.recordTurn({ id: process.env.RB_TURN_ID, sessionId: 'from-child',
    robotPersonality: 'child', userMessage: 'written by pid ' + process.pid, robotResponse: 'ok' })
  console.log(JSON.stringify({ ready: true, pid: process.pid, turn: turn.id }))
  process.stdin.on('end', async () => { await store.close(); process.exit(0) })
  process.stdin.resume()
} catch (e) {
  console.log(JSON.stringify({ error: { name: e.name, code: e.code, message: e.message } }))
  process.exit(3)
}
`

function childEnv(dataDir: string, mode: 'try' | 'hold', turnId = ''): Record<string, string> {
  return { RB_DIST_URL: pathToFileURL(DIST_INDEX).href, RB_DIR: dataDir, RB_MODE: mode, RB_TURN_ID: turnId }
}

describe(`restart (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    const built = serverBackend ? undefined : ensureDist() // the second process runs the compiled package
    t = await openTestStore('restart')
    await built
  }, 180_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('keeps every row across close and reopen', async () => {
    const turns: Turn[] = []
    for (let i = 0; i < 5; i++)
      turns.push(await t.store.recordTurn(turnInput('persisted', i, { metadata: { i, 名: '値' } })))
    turns.push(await t.store.tenant('other').recordTurn(turnInput('persisted', 9)))
    await t.store.updateSessionMetadata('persisted', { kept: true })
    await t.store.recordInteractions([
      { robotId: 'r', interactionType: 'boot', durationMs: 12, success: true },
    ])
    const session: Session = await t.store.getSession('persisted')
    const counts = await t.counts()

    const store = await t.reopen()
    expect(await t.counts()).toEqual(counts)
    expect(await store.getSession('persisted')).toEqual(session)
    expect((await store.history('persisted')).turns).toEqual(turns.slice(0, 5).reverse())
    expect((await store.tenant('other').history('persisted')).turns).toEqual([turns[5]])
    expect((await store.migrate()).applied).toEqual([])
    // Writable, and replays still recognized after the restart.
    const replay = await store.recordTurnResult(
      turnInput('persisted', 0, { id: turns[0]?.id, metadata: { i: 0, 名: '値' } }),
    )
    expect(replay).toEqual({ created: false, turn: turns[0] })
    await store.recordTurn(turnInput('persisted', 5))
    expect((await store.getSession('persisted')).messageCount).toBe(6)
  })

  describe.runIf(!serverBackend)('one process per data directory', () => {
    const dir = () => t.db.dataDir as string

    it('a second store in this process is refused', async () => {
      const err = await openStore(storeOptions(t.db)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toMatch(/already open in this process/)
    })

    it('a second process gets a clear error and the data stays whole', { timeout: 120_000 }, async () => {
      const before = await t.counts()
      const run = await runProcess(
        process.execPath,
        ['--input-type=module', '-e', CHILD],
        childEnv(dir(), 'try'),
      )
      expect(run.code, run.stderr).toBe(3)
      const { error } = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')
      expect(error).toMatchObject({ name: 'ConfigError', code: 'config_error' })
      expect(error.message).toContain(`in use by another process (pid ${process.pid})`)
      expect(error.message).toMatch(/ROBOT_BRAIN_DATA_DIR/)
      expect(await t.counts()).toEqual(before)
      await t.store.recordTurn(turnInput('persisted', 6))
      expect((await t.store.getSession('persisted')).messageCount).toBe(7)
    })

    it('while another process holds the directory this one is refused; after it stops, its writes are here', {
      timeout: 120_000,
    }, async () => {
      await t.store.close()
      const turnId = newId()
      const child = spawnProcess(
        process.execPath,
        ['--input-type=module', '-e', CHILD],
        childEnv(dir(), 'hold', turnId),
      )
      try {
        const ready = await firstLine(child)
        expect(ready).toMatchObject({ ready: true, turn: turnId })
        const err = await openStore(storeOptions(t.db)).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(ConfigError)
        expect((err as Error).message).toContain(`in use by another process (pid ${child.pid})`)
        child.stdin?.end()
        expect(await exitOf(child)).toEqual({ code: 0, signal: null })
      } finally {
        child.kill('SIGKILL')
      }
      const store = await t.reopen()
      expect((await store.history('from-child')).turns.map((x) => x.id)).toEqual([turnId])
      expect((await store.getSession('persisted')).messageCount).toBe(7)
    })

    it('a crashed holder leaves a stale lock that the next open takes over; committed data survives', {
      timeout: 120_000,
    }, async () => {
      await t.store.close()
      const turnId = newId()
      const child = spawnProcess(
        process.execPath,
        ['--input-type=module', '-e', CHILD],
        childEnv(dir(), 'hold', turnId),
      )
      try {
        expect(await firstLine(child)).toMatchObject({ ready: true, turn: turnId })
        child.kill('SIGKILL')
        expect((await exitOf(child)).signal).toBe('SIGKILL')
      } finally {
        child.kill('SIGKILL')
      }
      expect(existsSync(`${dir()}.lock`)).toBe(true) // left behind by the crash
      const store = await t.reopen()
      expect((await store.history('from-child')).turns.map((x) => x.id)).toEqual([turnId, expect.any(String)])
      expect((await store.getSession('from-child')).messageCount).toBe(2)
      await store.recordTurn(turnInput('after-crash', 0))
      expect((await store.getSession('after-crash')).messageCount).toBe(1)
    })
  })
})

/** The first line a child prints, parsed as JSON (rejects if it exits first). */
function firstLine(child: ReturnType<typeof spawnProcess>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr?.on('data', (d) => {
      err += d
    })
    child.stdout?.on('data', (d) => {
      out += d
      const nl = out.indexOf('\n')
      if (nl >= 0) {
        try {
          resolve(JSON.parse(out.slice(0, nl)))
        } catch (e) {
          reject(e)
        }
      }
    })
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before it was ready: ${out}${err}`)))
  })
}

function exitOf(
  child: ReturnType<typeof spawnProcess>,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  }
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
}
