// serve's startup line (which database, redacted; which driver; which migrations) and its log format:
// JSON lines when standard output is a pipe, readable lines (pino-pretty) on a terminal.
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FreshDatabase, freshDatabase } from '../support/backend.js'
import { startServe } from '../support/faults/serve.mjs'
import { backend, cliEnv, dbEnv, ensureBuilt, ROOT } from './cli.js'

const PASSWORD = 'L0g-Secret_pw'

describe(`serve logs (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    db = await freshDatabase('serve log')
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

  it('says which database (redacted), which driver and which migrations, as JSON on a pipe', async () => {
    const serve = await startServe({ env, logLevel: 'info' })
    let output = ''
    try {
      output = serve.output()
    } finally {
      await serve.stop()
    }
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
  }, 120_000)

  it('writes readable lines, not JSON, on a terminal', async () => {
    // `script` gives the server a pseudo-terminal as standard output.
    const command = `exec ${JSON.stringify(process.execPath)} bin/robot-brain-db.js serve --port 0`
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: ROOT,
      env: cliEnv({ ...env, TERM: 'dumb' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c) => {
      output += c.toString()
    })
    child.stderr.on('data', (c) => {
      output += c.toString()
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const deadline = Date.now() + 60_000
    try {
      while (!/Server listening/.test(output)) {
        if (Date.now() > deadline) throw new Error(`serve did not listen within 60 s:\n${output}`)
        if (child.exitCode !== null) throw new Error(`serve exited early:\n${output}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    } finally {
      child.kill('SIGTERM')
      await exited
    }
    const lines = output.split(/\r?\n/).filter((l) => /database |Server listening/.test(l))
    expect(lines.length, output).toBeGreaterThanOrEqual(2)
    for (const line of lines) {
      expect(line.trim().startsWith('{'), line).toBe(false)
      expect(line).toMatch(/INFO/)
    }
    expect(output).not.toContain(PASSWORD)
  }, 120_000)
})
