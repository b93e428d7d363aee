// A private PgBouncer (transaction pool mode) in front of a private cluster, with its own config
// directory, pidfile and address, so restarting it never disturbs the shared one on 127.0.0.1:6432.
// It listens on port 6432 of another loopback address (127.x.y.z): the store recognizes a pooler by
// that port, as it would Neon's, and so sends no startup parameters and no named statements.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { privateDir, runPgBinary } from './cluster.mjs'

const DEFAULT_PORT = 6432

function findBinary() {
  for (const candidate of [process.env.PGBOUNCER_BIN, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']) {
    if (candidate && existsSync(candidate)) return candidate
  }
  throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)')
}

function canListen(host, port) {
  return new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

async function freeLoopbackHost(port) {
  for (let i = 0; i < 50; i++) {
    const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`
    if (await canListen(host, port)) return host
  }
  throw new Error(`no loopback address with port ${port} free`)
}

function answers(host, port) {
  return new Promise((resolve) => {
    const s = net.connect(port, host)
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * @param {{ targetPort: number, users?: string[], port?: number }} options  `port`: another port than
 *   6432, where the store does not recognise a pooler (the setup-error tests need one)
 */
export async function startPrivatePgBouncer(options) {
  const bin = findBinary()
  const PGBOUNCER_PORT = options.port ?? DEFAULT_PORT
  const host = await freeLoopbackHost(PGBOUNCER_PORT)
  const dir = privateDir('rb-faults-pgbouncer-')
  const conf = join(dir, 'pgbouncer.ini')
  const pidfile = join(dir, 'pgbouncer.pid')
  const users = options.users ?? ['postgres', 'robot_brain_test_app']
  writeFileSync(
    conf,
    `[databases]
* = host=127.0.0.1 port=${options.targetPort}

[pgbouncer]
listen_addr = ${host}
listen_port = ${PGBOUNCER_PORT}
unix_socket_dir =
pool_mode = transaction
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
admin_users = postgres
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
server_login_retry = 1
pidfile = ${pidfile}
logfile = ${join(dir, 'pgbouncer.log')}
`,
  )
  writeFileSync(join(dir, 'userlist.txt'), users.map((u) => `"${u}" ""`).join('\n'))

  const pid = () => {
    try {
      const n = Number(readFileSync(pidfile, 'utf8').trim())
      return Number.isInteger(n) && n > 0 ? n : undefined
    } catch {
      return undefined
    }
  }
  const alive = (p) => {
    try {
      process.kill(p, 0)
      return true
    } catch {
      return false
    }
  }

  let running = false
  const bouncer = {
    host,
    port: PGBOUNCER_PORT,
    url: (database, user = 'robot_brain_test_app') =>
      `postgres://${user}@${host}:${PGBOUNCER_PORT}/${database}`,
    get running() {
      return running
    },
    async start() {
      await runPgBinary(bin, ['-d', conf])
      await waitFor(() => answers(host, PGBOUNCER_PORT), 10_000, 'pgbouncer to listen')
      running = true
    },
    /** SIGTERM: PgBouncer's immediate shutdown, every client connection closed. */
    async stop() {
      const p = pid()
      running = false
      if (!p || !alive(p)) return
      process.kill(p, 'SIGTERM')
      await waitFor(() => !alive(p), 10_000, `pgbouncer pid ${p} to exit`)
    },
    async restart({ downMs = 0 } = {}) {
      await bouncer.stop()
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
      await bouncer.start()
    },
    async destroy() {
      await bouncer.stop().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  try {
    await bouncer.start()
  } catch (err) {
    await bouncer.destroy()
    throw err
  }
  return bouncer
}
