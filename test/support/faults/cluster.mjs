// A private, throwaway PostgreSQL cluster for fault tests: its own data directory and port, so it can
// be restarted or stopped without touching the shared server other suites use. Runs as the
// `postgres` OS user when we are root (initdb refuses root). Trust authentication, loopback only,
// durability off (fsync=off): the tests restart it cleanly, they never crash the machine.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const PG_BIN = process.env.ROBOT_BRAIN_PG_BIN || '/usr/lib/postgresql/15/bin'
const RUN_AS = 'postgres'

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/** Runs a PostgreSQL binary, as the postgres OS user when we are root. */
export async function runPgBinary(binary, args, options = {}) {
  const file = binary.includes('/') ? binary : join(PG_BIN, binary)
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', RUN_AS, '--', file, ...args]] : [file, args]
  return run(cmd, argv, { timeout: 60_000, ...options })
}

/**
 * A TCP port nobody listens on right now, from a range away from the usual ones and below Linux's
 * ephemeral ports (32768-60999): a connection to a free port inside that range can be given the same
 * port as its own source and connect to itself (TCP simultaneous open), so a "refused port" test
 * then hangs talking to itself instead of being refused.
 */
export async function freePort(from = 22_000, to = 29_999) {
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * (to - from))
    const free = await new Promise((resolve) => {
      const srv = net.createServer()
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error('no free TCP port found')
}

/** A directory the postgres OS user owns (the cluster's data, sockets, PgBouncer's files). */
export function privateDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (isRoot()) {
    const { uid, gid } = lookupUser(RUN_AS)
    chownSync(dir, uid, gid)
  }
  return dir
}

let cachedUser
function lookupUser(name) {
  // Node has no getpwnam: ask `id`, as a shell would.
  cachedUser ??= {
    uid: Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim()),
  }
  return cachedUser
}

/**
 * Creates and starts a private cluster. Returns its port, URLs, and controls to stop, start and
 * restart it (the fault), and destroy() to remove everything.
 */
export async function startPrivateCluster(options = {}) {
  const port = options.port ?? (await freePort())
  const base = privateDir('rb-faults-pg-')
  const dataDir = join(base, 'data')
  const logFile = join(base, 'postgres.log')
  await runPgBinary('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-sync',
    '--no-instructions',
  ])
  const settings = [
    `port=${port}`,
    "listen_addresses='127.0.0.1'",
    `unix_socket_directories='${base}'`,
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'max_connections=200',
    'shared_buffers=32MB',
    ...(options.settings ?? []),
  ]
  const pgOptions = settings.map((s) => `-c ${s}`).join(' ')
  const ctl = (...args) => runPgBinary('pg_ctl', ['-D', dataDir, '-l', logFile, ...args])

  let running = false
  const cluster = {
    port,
    dataDir,
    logFile,
    /** Superuser URL of a database on this cluster. */
    url: (database = 'postgres', user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`,
    get running() {
      return running
    },
    async start() {
      await ctl('-w', '-t', '60', '-o', pgOptions, 'start')
      running = true
    },
    /** Stops the server: `fast` disconnects every session (57P01), `immediate` is a crash-like stop. */
    async stop(mode = 'fast') {
      if (!running) return
      await ctl('-w', '-t', '60', '-m', mode, 'stop')
      running = false
    },
    /** Stop, stay down for `downMs`, start again: what a restart or a compute suspend looks like. */
    async restart({ mode = 'fast', downMs = 0 } = {}) {
      await cluster.stop(mode)
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
      await cluster.start()
    },
    async destroy() {
      if (running) await cluster.stop('immediate').catch(() => {})
      if (existsSync(base)) rmSync(base, { recursive: true, force: true })
    },
  }
  try {
    await cluster.start()
  } catch (err) {
    await cluster.destroy()
    throw err
  }
  return cluster
}
