// The `serve` and `keys` commands as a user runs them: the built CLI in a child process, real
// signals, real HTTP. On PGlite one process at a time may open the data directory, so the steps
// run in order: keys while no server runs, then a server, then stop it.
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, cliEnv, dbEnv, ensureBuilt, json, ROOT } from '../cli/cli.js'
import { backendName, type FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'

const BIN = join(ROOT, 'bin/robot-brain-db.js')

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

interface Running {
  child: ChildProcess
  url: string
  output: () => string
  /** Sends the signal and resolves with the exit code and how long the exit took (ms). */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>
}

/** Starts `serve` on a free loopback port and waits until /healthz answers. */
async function serve(env: Record<string, string>, args: string[] = []): Promise<Running> {
  const port = await freePort()
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), ...args], {
    cwd: ROOT,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (c) => {
    out += c
  })
  child.stderr?.on('data', (c) => {
    out += c
  })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${out}`)
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) break
    if (Date.now() > deadline) throw new Error(`serve did not start in time:\n${out}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    child,
    url,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      const t0 = Date.now()
      child.kill(signal)
      const code = await exited
      return { code, ms: Date.now() - t0 }
    },
  }
}

// Each command opens the database in a new process (PGlite: seconds each on a busy machine).
describe(`serve and keys commands (${backendName()})`, { timeout: 180_000 }, () => {
  let db: FreshDatabase
  let env: Record<string, string>
  let running: Running | undefined
  beforeAll(async () => {
    await ensureBuilt()
    // Empty, not migrated (PGlite: a copy of an initialized directory, so no process pays for initdb).
    db = await freshTestDatabase('http_cli', false)
    env = { ...dbEnv(db), LOG_LEVEL: 'info' }
  }, 300_000) // may have to build dist/ first
  afterAll(async () => {
    if (running && running.child.exitCode === null) await running.stop('SIGKILL')
    await db?.drop()
  })

  it('explains itself with --help', async () => {
    // Neither opens the database, so they may run at the same time.
    const [serveHelp, keysHelp] = await Promise.all([
      cli(['serve', '--help'], env),
      cli(['keys', '--help'], env),
    ])
    expect(serveHelp.code).toBe(0)
    expect(serveHelp.stdout).toMatch(/--port/)
    expect(serveHelp.stdout).toMatch(/--host/)
    expect(keysHelp.code).toBe(0)
    for (const sub of ['create', 'list', 'revoke']) expect(keysHelp.stdout).toContain(sub)
  })

  it('keys says to migrate first on an empty database', async () => {
    const r = await cli(['keys', 'list'], env)
    expect(r.code).toBe(1)
    // One line, the message: closing the embedded database after the failure once raced a pooled
    // client's Terminate message into a closed PGlite and dumped a TypeError with PGlite's source.
    expect(r.stderr.trim()).toMatch(/^error: [^\n]*migrate[^\n]*$/)
  })

  it('serve refuses to listen beyond loopback while no key exists (exit 1, says why)', async () => {
    const r = await cli(['serve', '--host', '0.0.0.0', '--port', String(await freePort())], env, 120_000)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 with no API keys/)
    expect(r.stderr).toMatch(/keys create/)
  })

  it('rejects bad usage with exit 2', async () => {
    // Usage errors stop before the database is opened, so the runs may overlap.
    const [noTenant, bad, badId, badPort, badLevel] = await Promise.all([
      cli(['keys', 'create'], env), // --tenant is required
      cli(['keys', 'create', '--tenant', 'no spaces!'], env),
      cli(['keys', 'revoke', 'not-a-uuid'], env),
      cli(['serve', '--port', '99999'], env),
      cli(['serve', '--port', '3000', '--log-level', 'loud'], env),
    ])
    expect(noTenant.code).toBe(2)
    expect(bad.code, bad.stderr).toBe(2)
    expect(bad.stderr).toMatch(/--tenant/)
    expect(badId.code).toBe(2)
    expect(badPort.code).toBe(2)
    expect(badLevel.code).toBe(2)
  })

  let acmeKey = ''
  let acmeId = ''
  let otherKey = ''
  it('creates keys (shown once), lists them without the secret', async () => {
    const created = await cli(['keys', 'create', '--tenant', 'acme', '--name', 'ci', '--json'], env)
    expect(created.code, created.stderr).toBe(0)
    const k = json<{ id: string; key: string; tenant: string; name: string; prefix: string }>(created)
    expect(k).toMatchObject({ tenant: 'acme', name: 'ci' })
    expect(k.key.startsWith(k.prefix)).toBe(true)
    acmeKey = k.key
    acmeId = k.id

    // Plain output: the key alone on stdout (scriptable), the explanation on stderr.
    const plain = await cli(['keys', 'create', '--tenant', 'acme'], env)
    expect(plain.code).toBe(0)
    expect(plain.stdout.trim()).toMatch(/^rbdb_[A-Za-z0-9_-]{43}$/)
    expect(plain.stderr).toMatch(/shown only now/)
    otherKey = plain.stdout.trim()

    const list = await cli(['keys', 'list', '--json'], env)
    expect(list.code).toBe(0)
    const keys = json<Array<Record<string, unknown>>>(list)
    expect(keys).toHaveLength(2)
    expect(list.stdout).not.toContain(acmeKey)
    expect(list.stdout).not.toContain(otherKey)
    expect(keys.map((x) => x.id)).toContain(acmeId)
    const table = await cli(['keys', 'list'], env)
    expect(table.stdout).toContain(acmeId)
    expect(table.stdout).toContain('active')
  })

  it('serves with keys: 401 without one, the tenant with one; SIGTERM stops it with exit 0', async () => {
    running = await serve(env)
    const anon = await fetch(`${running.url}/v1/sessions`)
    expect(anon.status).toBe(401)
    const auth = { authorization: `Bearer ${acmeKey}`, 'content-type': 'application/json' }
    const post = await fetch(`${running.url}/v1/sessions/cli-s1/turns`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ robotPersonality: 'p', userMessage: 'from the cli test', robotResponse: 'ok' }),
    })
    expect(post.status).toBe(201)
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200)
    const stopped = await running.stop('SIGTERM')
    expect(stopped.code, running.output()).toBe(0)
    expect(stopped.ms).toBeLessThan(10_000)
    // Structured logs with request ids, and no key anywhere in them.
    const log = running.output()
    expect(log).toMatch(/"reqId":"[^"]+"/)
    expect(log).not.toContain(acmeKey)
    expect(log).not.toContain(acmeKey.slice(12))
  })

  it('revokes a key: it fails after a restart too, while the data and the other key remain', async () => {
    const r = await cli(['keys', 'revoke', acmeId], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/revoked key/)
    const again = await cli(['keys', 'revoke', acmeId, '--json'], env)
    expect(json(again)).toMatchObject({ id: acmeId, alreadyRevoked: true })
    const missing = await cli(['keys', 'revoke', '01890000-0000-7000-8000-000000000000'], env)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no API key/)

    running = await serve(env, ['--log-level', 'warn'])
    const revoked = await fetch(`${running.url}/v1/sessions`, {
      headers: { authorization: `Bearer ${acmeKey}` },
    })
    expect(revoked.status).toBe(401)
    const page = await fetch(`${running.url}/v1/sessions/cli-s1/turns`, {
      headers: { authorization: `Bearer ${otherKey}` },
    })
    expect(page.status).toBe(200)
    const body = (await page.json()) as { turns: Array<{ userMessage: string }> }
    expect(body.turns.map((t) => t.userMessage)).toEqual(['from the cli test'])
    const stopped = await running.stop('SIGINT')
    expect(stopped.code, running.output()).toBe(0)
  })
})
