// serve's startup line (which database, redacted; which driver; which migrations) and its log format:
// JSON lines when standard output is a pipe, readable lines (pino-pretty) on a terminal.
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend, cliEnv, dbEnv, ensureBuilt, ROOT } from './cli.js'

const PASSWORD = 'L0g-Secret_pw'
/** PGlite's start takes seconds, and far more on a busy machine: a generous deadline, said when hit. */
const LISTEN_DEADLINE_MS = 240_000

/** Runs serve (directly, or under `script`) until it logs that it listens; returns what it wrote. */
async function serveUntilListening(
  args: string[],
  env: Record<string, string>,
  command = process.execPath,
): Promise<string> {
  const child = spawn(command, args, { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c) => {
    output += c.toString()
  })
  child.stderr.on('data', (c) => {
    output += c.toString()
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const deadline = Date.now() + LISTEN_DEADLINE_MS
  try {
    while (!/Server listening/.test(output)) {
      if (Date.now() > deadline) {
        throw new Error(`serve did not listen within ${LISTEN_DEADLINE_MS / 1000} s:\n${output}`)
      }
      if (child.exitCode !== null) throw new Error(`serve exited early:\n${output}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  } finally {
    child.kill('SIGTERM')
    await exited
  }
  return output
}

describe(`serve logs (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    // Empty, not migrated (PGlite: a copy of an initialized directory, so no process pays for initdb).
    db = await freshTestDatabase('serve log', false)
    env = dbEnv(db)
    if (env.DATABASE_URL) {
      const u = new URL(env.DATABASE_URL)
      u.password = PASSWORD // trust authentication ignores it; the log must not show it
      env.DATABASE_URL = u.toString()
    }
  }, 300_000)
  afterAll(async () => {
    await db?.drop()
  })

  it(
    'says which database (redacted), which driver and which migrations, as JSON on a pipe',
    async () => {
      const output = await serveUntilListening(['bin/robot-brain-db.js', 'serve', '--port', '0'], env)
      const lines = output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      const startup = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('database '))
      expect(startup, output).toBeDefined()
      const driver = backend === 'pglite' ? 'pglite' : backend === 'neon' ? 'neon' : 'pg'
      expect(startup).toMatchObject({
        driver,
        migrations: expect.arrayContaining(['0001_schema.sql', '0002_api_keys.sql']),
        appliedNow: expect.arrayContaining(['0001_schema.sql']),
      })
      if (backend === 'pglite') expect(startup?.database).toBe(db.dataDir)
      else expect(startup?.database).toBe(env.DATABASE_URL?.replace(PASSWORD, '***'))
      expect(String(startup?.msg)).toMatch(new RegExp(`via ${driver}`))
      expect(output).not.toContain(PASSWORD)
    },
    LISTEN_DEADLINE_MS + 60_000,
  )

  it(
    'writes readable lines, not JSON, on a terminal',
    async () => {
      // `script` gives the server a pseudo-terminal as standard output.
      const command = `exec ${JSON.stringify(process.execPath)} bin/robot-brain-db.js serve --port 0`
      const output = await serveUntilListening(
        ['-qfec', command, '/dev/null'],
        { ...env, TERM: 'dumb' },
        'script',
      )
      const lines = output.split(/\r?\n/).filter((l) => /database |Server listening/.test(l))
      expect(lines.length, output).toBeGreaterThanOrEqual(2)
      for (const line of lines) {
        expect(line.trim().startsWith('{'), line).toBe(false)
        expect(line).toMatch(/INFO/)
      }
      expect(output).not.toContain(PASSWORD)
    },
    LISTEN_DEADLINE_MS + 60_000,
  )
})
