// Runs `robot-brain-db serve` as a real child process (from dist/: call ensureBuilt() first) on a
// loopback port, and talks to it over HTTP with keep-alive. Records how it ended, so a test can tell a
// clean exit from a crash.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { assertBuilt } from '../build.mjs'
import { freePort } from './cluster.mjs'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = `${ROOT}bin/robot-brain-db.js`

export { assertBuilt, ensureBuilt } from '../build.mjs'

/**
 * @param {{ env: Record<string, string>, logLevel?: string }} options
 *   env: DATABASE_URL and friends for the child (merged over a clean copy of ours).
 */
export async function startServe(options) {
  assertBuilt()
  const port = await freePort(40_000, 49_999)
  const env = { ...process.env, ...options.env, PORT: String(port), HOST: '127.0.0.1' }
  // The child must not inherit the test runner's own settings.
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'NODE_OPTIONS') delete env[k]
  const child = spawn(process.execPath, [BIN, 'serve', '--log-level', options.logLevel ?? 'warn'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const keep = (chunk) => {
    output += chunk.toString()
    if (output.length > 200_000) output = output.slice(-100_000)
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  let exit
  exited.then((e) => {
    exit = e
  })
  const base = `http://127.0.0.1:${port}`
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

  const server = {
    pid: child.pid,
    port,
    base,
    /** The process's stdout and stderr so far (the tail). */
    output: () => output,
    /** null while running; then { code, signal }. */
    exit: () => exit ?? null,
    exited,
    /** One HTTP request; resolves with { status, headers, body } (body parsed when JSON). */
    request: (method, path, body) => request(agent, base, method, path, body),
    /** Sends `signal` and waits for the process to end (at most timeoutMs). */
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (exit) return exit
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const e = await exited
      clearTimeout(timer)
      agent.destroy()
      return e
    },
  }
  // Ready when /readyz answers 200 (migrated, database reachable).
  const deadline = Date.now() + 60_000
  for (;;) {
    if (exit) throw new Error(`serve exited early (${JSON.stringify(exit)}):\n${output.slice(-4000)}`)
    const r = await server.request('GET', '/readyz').catch(() => null)
    if (r?.status === 200) break
    if (Date.now() > deadline) {
      await server.stop('SIGKILL')
      throw new Error(`serve did not become ready within 60 s:\n${output.slice(-4000)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return server
}

function request(agent, base, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: 60_000,
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed = text
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end(payload)
  })
}

/** A turn writer over HTTP for startTurnLoad: resolves on 201/200, throws { code: 'http_<status>' }. */
export function httpTurnWriter(server) {
  return async (turn) => {
    const { sessionId, ...body } = turn
    let r
    try {
      r = await server.request('POST', `/v1/sessions/${encodeURIComponent(sessionId)}/turns`, body)
    } catch (err) {
      throw Object.assign(new Error(err.message), { code: `http_${err.code ?? 'error'}` })
    }
    if (r.status === 201 || r.status === 200) return r.body
    throw Object.assign(new Error(JSON.stringify(r.body)), { code: `http_${r.status}`, status: r.status })
  }
}
