#!/usr/bin/env node
// WebSocket-to-TCP proxy that speaks the protocol used by @neondatabase/serverless:
// the driver opens ws://HOST:PORT/v1?address=<pghost>:<pgport> and every binary
// frame carries raw Postgres wire-protocol bytes, in both directions.
//
// This is the single implementation; test/support/ws-proxy.ts re-exports it with types.
// Standalone: node scripts/ws-proxy.mjs --port 5480 [--host 127.0.0.1] [--target 127.0.0.1:5432]
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { WebSocketServer } from 'ws'

/** True for 127.0.0.0/8, ::1 (also IPv4-mapped) and "localhost". */
export function isLoopbackHost(host) {
  const h = String(host)
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return net.isIPv4(v4) && v4.startsWith('127.')
}

/** Parses "host:port" or "[v6]:port". Returns undefined when malformed. */
export function parseAddress(address) {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(String(address ?? ''))
  if (!m) return undefined
  const port = Number(m[3])
  if (port < 1 || port > 65535) return undefined
  return { host: m[1] ?? m[2], port }
}

/**
 * Starts the proxy on 127.0.0.1.
 * @param {{ port?: number, host?: string, target?: { host: string, port: number }, log?: (msg: string) => void }} [opts]
 *   port: listen port (0 / undefined = random free port).
 *   target: used when the client gives no ?address= (must be loopback).
 */
export async function startWsProxy(opts = {}) {
  const listenHost = opts.host ?? '127.0.0.1'
  const log = opts.log ?? (() => {})
  if (opts.target && !isLoopbackHost(opts.target.host)) {
    throw new Error(`ws-proxy: target ${opts.target.host} is not a loopback address`)
  }
  /** @type {Set<{ ws: import('ws').WebSocket, tcp: net.Socket }>} */
  const pairs = new Set()
  const wss = new WebSocketServer({ host: listenHost, port: opts.port ?? 0, perMessageDeflate: false })

  wss.on('connection', (ws, req) => {
    const reqUrl = new URL(req.url ?? '/', 'http://proxy.invalid')
    const addressParam = reqUrl.searchParams.get('address')
    const target = addressParam ? parseAddress(addressParam) : opts.target
    if (!target) {
      log(`rejecting ${req.url}: missing or malformed address`)
      ws.close(1008, 'missing or malformed ?address=host:port')
      return
    }
    if (!isLoopbackHost(target.host)) {
      log(`rejecting ${req.url}: non-loopback target`)
      ws.close(1008, 'only loopback targets are allowed')
      return
    }

    const tcp = net.connect({ host: target.host, port: target.port })
    tcp.setNoDelay(true)
    const pair = { ws, tcp }
    pairs.add(pair)
    /** @type {Buffer[]} */
    let pending = []
    let connected = false

    const teardown = () => {
      if (!pairs.delete(pair)) return
      tcp.destroy()
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close()
    }

    tcp.on('connect', () => {
      connected = true
      for (const chunk of pending) tcp.write(chunk)
      pending = []
    })
    tcp.on('data', (chunk) => {
      if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true })
    })
    tcp.on('error', (err) => log(`tcp ${target.host}:${target.port}: ${err.message}`))
    tcp.on('close', teardown)

    ws.on('message', (data) => {
      const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
      if (connected) tcp.write(chunk)
      else pending.push(chunk)
    })
    ws.on('error', (err) => log(`ws: ${err.message}`))
    ws.on('close', teardown)
  })

  await new Promise((resolve, reject) => {
    wss.once('listening', resolve)
    wss.once('error', reject)
  })
  const addr = wss.address()
  const port = typeof addr === 'object' && addr ? addr.port : Number(opts.port)
  const hostForUrl = listenHost.includes(':') ? `[${listenHost}]` : listenHost

  /** Abruptly kills every open client/server socket pair (no close handshake). */
  const dropAll = () => {
    const n = pairs.size
    for (const pair of [...pairs]) {
      pairs.delete(pair)
      pair.tcp.destroy()
      pair.ws.terminate()
    }
    return n
  }

  return {
    port,
    /** Base URL of the proxy, e.g. ws://127.0.0.1:5480/v1 */
    url: `ws://${hostForUrl}:${port}/v1`,
    /** Number of currently open socket pairs. */
    activeConnections: () => pairs.size,
    dropAll,
    close: () =>
      new Promise((resolve) => {
        dropAll()
        for (const client of wss.clients) client.terminate()
        wss.close(() => resolve())
      }),
  }
}

function parseArgs(argv) {
  const out = { port: 5480, host: '127.0.0.1', target: undefined, verbose: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`missing value for ${a}`)
      return v
    }
    if (a === '--port' || a === '-p') out.port = Number(next())
    else if (a === '--host') out.host = next()
    else if (a === '--target') {
      const t = parseAddress(next())
      if (!t) throw new Error('--target must be host:port')
      out.target = t
    } else if (a === '--verbose' || a === '-v') out.verbose = true
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: node scripts/ws-proxy.mjs [--port 5480] [--host 127.0.0.1] [--target 127.0.0.1:5432] [-v]',
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return out
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  const args = parseArgs(process.argv.slice(2))
  const proxy = await startWsProxy({
    port: args.port,
    host: args.host,
    target: args.target,
    log: args.verbose ? (m) => console.error(`[ws-proxy] ${m}`) : undefined,
  })
  console.log(`ws-proxy listening on ${proxy.url} (wsProxy = '${args.host}:${proxy.port}/v1')`)
  const stop = () => proxy.close().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
