// The command line's usage errors, through the real CLI: no command, a group without its sub-command,
// an unknown driver (exit 2, never a silent fallback), help that agrees with itself, and connection
// errors that say where they tried (never the password). None of these needs a database.
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, cli, ensureBuilt } from './cli.js'

const PASSWORD = 'Us4ge-Secret_pw'

// No test here opens a database or depends on another, so they run side by side: most of each is
// starting Node and waiting on a refused or silent connection.
describe.concurrent(`command line usage (${backend})`, () => {
  beforeAll(async () => {
    await ensureBuilt()
  }, 300_000)

  it('prints help and exits 2 when no command is given', async () => {
    const r = await cli([], {})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Usage: robot-brain-db/)
    expect(r.stderr).toMatch(/Commands:/)
  }, 60_000)

  it('prints the group help and exits 2 for `keys` without a sub-command', async () => {
    const r = await cli(['keys'], {})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/Usage: robot-brain-db keys/)
    expect(r.stderr).toMatch(/create/)
  }, 60_000)

  it('still exits 0 when help is asked for', async () => {
    const cases = [['--help'], ['help'], ['keys', '--help'], ['status', '--help']]
    const results = await Promise.all(cases.map((args) => cli(args, {})))
    cases.forEach((args, i) => {
      expect(results[i]?.code, args.join(' ')).toBe(0)
    })
  }, 60_000)

  it('refuses an unknown --driver with exit 2, naming the choices', async () => {
    const r = await cli(['status', '--driver', 'mongo'], { DATABASE_URL: 'postgres://x@127.0.0.1:1/x' })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--driver must be one of pg, neon, pglite, got "mongo"/)
  }, 60_000)

  it('bench --help says DATABASE_URL is not read, and nothing says otherwise', async () => {
    const [r, s] = await Promise.all([cli(['bench', '--help'], {}), cli(['status', '--help'], {})])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/DATABASE_URL is not read/)
    expect(r.stdout).not.toMatch(/default: DATABASE_URL/)
    expect(r.stdout).not.toMatch(/--data-dir|--driver/)
    // Other commands keep the shared database flags.
    expect(s.stdout).toMatch(/default: DATABASE_URL/)
  }, 60_000)

  describe('connection errors name the host and port tried', () => {
    // A server that accepts connections and never answers: the connect timeout fires, and the
    // driver's own message ("Connection terminated due to connection timeout") names no host.
    let silent: net.Server
    let silentPort: number
    const sockets = new Set<net.Socket>()

    beforeAll(async () => {
      silent = net.createServer((s) => {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
      })
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      silentPort = (silent.address() as net.AddressInfo).port
    })

    afterAll(async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })

    it('a refused connection', async () => {
      const r = await cli(['migrate'], {
        DATABASE_URL: `postgres://robot:${PASSWORD}@127.0.0.1:1/app`,
        DATABASE_RETRY_BUDGET_MS: '300',
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/connecting to 127\.0\.0\.1:1 as "robot"/)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }, 60_000)

    it('a connect timeout', async () => {
      const r = await cli(['migrate'], {
        DATABASE_URL: `postgres://robot:${PASSWORD}@127.0.0.1:${silentPort}/app`,
        DATABASE_CONNECT_TIMEOUT_MS: '300',
        DATABASE_RETRY_BUDGET_MS: '500',
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/timeout/i)
      expect(r.stderr).toContain(`connecting to 127.0.0.1:${silentPort} as "robot"`)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }, 60_000)
  })
})
