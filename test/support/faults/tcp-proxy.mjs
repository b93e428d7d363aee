// A TCP proxy in front of PostgreSQL that can behave like Neon's proxy while a compute wakes up:
// drop every connection, refuse new ones at the TCP level, or accept them and answer the startup
// packet with Neon's error (XX000 "Couldn't connect to compute node"), then pass traffic again.
// Loopback only.
import net from 'node:net'

const SSL_REQUEST_CODE = 80877103
const GSSENC_REQUEST_CODE = 80877104

/** A PostgreSQL ErrorResponse message (severity FATAL) with the given SQLSTATE and text. */
export function errorResponse(code, message) {
  const fields = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', code],
    ['M', message],
  ]
  const body = Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`, 'utf8')), Buffer.from([0])])
  const head = Buffer.alloc(5)
  head.write('E', 0, 'ascii')
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}

export const NEON_WAKING_MESSAGE = "Couldn't connect to compute node"

/**
 * @param {{ target: { host: string, port: number }, port?: number }} options
 */
export async function startTcpProxy(options) {
  const target = options.target
  if (!['127.0.0.1', 'localhost', '::1'].includes(target.host)) {
    throw new Error(`tcp proxy: target ${target.host} is not a loopback address`)
  }
  /** @type {Set<net.Socket>} */
  const sockets = new Set()
  /** 'pass' | 'neon' (answer XX000) — refusing at the TCP level closes the listener instead. */
  let mode = 'pass'
  let accepted = 0
  let answeredWaking = 0
  let server

  const onConnection = (client) => {
    accepted++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    if (mode === 'neon') return answerWaking(client)
    const upstream = net.connect(target.port, target.host)
    sockets.add(upstream)
    upstream.on('close', () => {
      sockets.delete(upstream)
      client.destroy()
    })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    client.pipe(upstream)
    upstream.pipe(client)
  }

  /** Reads the startup packet (answering 'N' to an SSL/GSS request) and replies with Neon's error. */
  const answerWaking = (client) => {
    answeredWaking++
    let buf = Buffer.alloc(0)
    client.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 8) {
        const len = buf.readInt32BE(0)
        if (buf.length < len) return
        const code = buf.readInt32BE(4)
        buf = buf.subarray(len)
        if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
          client.write('N')
          continue
        }
        client.end(errorResponse('XX000', NEON_WAKING_MESSAGE))
        return
      }
    })
  }

  const listen = (port) =>
    new Promise((resolve, reject) => {
      server = net.createServer(onConnection)
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve(server.address().port)
      })
    })
  const unlisten = () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()))

  const port = await listen(options.port ?? 0)

  const proxy = {
    port,
    url: (database, user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}`,
    /** Open client and upstream sockets. */
    connections: () => sockets.size,
    stats: () => ({ accepted, answeredWaking }),
    /** Destroys every open socket at once (no goodbye): what a suspended compute does to clients. */
    dropAll() {
      const n = sockets.size
      for (const s of [...sockets]) s.destroy()
      return n
    },
    /**
     * A compute waking: drops every connection, refuses new ones (ECONNREFUSED) for `refuseMs`,
     * answers them with Neon's XX000 error for `wakingMs`, then passes traffic again.
     */
    async wake({ refuseMs = 0, wakingMs = 0 } = {}) {
      const closed = unlisten()
      proxy.dropAll()
      await closed
      if (refuseMs > 0) await new Promise((r) => setTimeout(r, refuseMs))
      mode = wakingMs > 0 ? 'neon' : 'pass'
      await listen(port)
      if (wakingMs > 0) {
        await new Promise((r) => setTimeout(r, wakingMs))
        mode = 'pass'
      }
    },
    async close() {
      const closed = unlisten()
      proxy.dropAll()
      await closed
    },
  }
  return proxy
}
