// Embedded transport: PGlite (PostgreSQL in WebAssembly) with pgvector, bridged to node-postgres.
// One in-process connection: the app and owner pools share it, switching roles on checkout.
import { PGlite } from '@electric-sql/pglite'
import { createPgConfig } from '@electric-sql/pglite/node-postgres'
import { vector } from '@electric-sql/pglite-pgvector'
import pg from 'pg'
import { Parser } from 'pg-protocol/dist/parser.js'
import type { Config } from '../config.js'
import { lockDataDir } from './data-dir-lock.js'
import type { DbPool, Transport } from './pool.js'
import { RolePool, type RoleState } from './role-pool.js'

export async function openPglite(config: Config, runtimeRole: () => string | null): Promise<Transport> {
  const inMemory = config.dataDir.startsWith('memory://')
  const lock = inMemory ? undefined : lockDataDir(config.dataDir)
  let db: PGlite
  try {
    db = await PGlite.create({ dataDir: config.dataDir, extensions: { vector } })
  } catch (err) {
    lock?.release()
    throw err
  }
  const inner = new pg.Pool(createPgConfig(faithfulDecoding(db, () => closed))) as unknown as DbPool
  const state: RoleState = new WeakMap()
  const app = new RolePool(inner, runtimeRole, state)
  const owner = new RolePool(inner, () => null, state)
  let closed = false
  return {
    driver: 'pglite',
    app,
    owner,
    read: app,
    pooled: false,
    async close() {
      if (closed) return
      closed = true
      try {
        await inner.end()
        await db.close()
      } finally {
        lock?.release()
      }
    },
  }
}

/**
 * PGlite 0.5 decodes each text field with a default TextDecoder, which drops a leading U+FEFF as if it
 * were a byte order mark: a message starting with one would come back one character short. So the
 * bridge gets PGlite's raw protocol bytes, parsed by node-postgres' own parser (Buffer decoding keeps
 * every character), exactly as it parses a server's bytes. The bridge uses only these two members.
 */
function faithfulDecoding(db: PGlite, closing: () => boolean): PGlite {
  const bridge: Pick<PGlite, 'waitReady' | 'execProtocolStream'> = {
    waitReady: db.waitReady,
    async execProtocolStream(message, options) {
      // pg.Pool#end() can resolve before a client's Terminate message has gone through the bridge;
      // reaching PGlite once it closes, that message threw a TypeError as an unhandled 'error' event
      // (seen after a failed command). An embedded database has no connection to terminate: drop it.
      if (closing() || db.closed) return []
      const raw = await db.execProtocolRaw(message, { syncToFs: options?.syncToFs })
      const messages: Awaited<ReturnType<PGlite['execProtocolStream']>> = []
      new Parser().parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), (m) => {
        messages.push(m as (typeof messages)[number])
      })
      return messages
    },
  }
  return bridge as PGlite
}
