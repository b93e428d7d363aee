// A cap on open connections per client address. Timeouts end stalled requests eventually; this keeps
// one address from holding hundreds of sockets (and file handles) meanwhile, so /healthz and the other
// clients keep being served. A connection over the cap gets a short 429 and is closed at once.
import type { Server } from 'node:http'
import type { Socket } from 'node:net'

const BODY = JSON.stringify({
  error: { code: 'too_many_connections', message: 'too many open connections from this address' },
})
const REFUSAL =
  'HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json; charset=utf-8\r\n' +
  `retry-after: 1\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`

export interface ConnectionCap {
  /** Open connections per address now (for tests and metrics). */
  open(address: string): number
  /** Connections refused so far. */
  readonly refused: number
}

/** Counts connections by remote address; `max` 0 disables the cap. */
export function capConnectionsPerAddress(server: Server, max: number): ConnectionCap {
  const open = new Map<string, number>()
  let refused = 0
  if (max > 0) {
    // Prepended: the refusal is decided before the HTTP parser reads anything from the socket.
    server.prependListener('connection', (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown'
      const n = (open.get(address) ?? 0) + 1
      if (n > max) {
        refused++
        socket.on('error', () => {}) // the client may already be gone
        socket.end(REFUSAL)
        // A client that never reads must not keep the socket: end() alone waits for it.
        setTimeout(() => socket.destroy(), 1000).unref()
        return
      }
      open.set(address, n)
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1
        if (left === 0) open.delete(address)
        else open.set(address, left)
      })
    })
  }
  return {
    open: (address) => open.get(address) ?? 0,
    get refused() {
      return refused
    },
  }
}
