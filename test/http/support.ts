// HTTP tests talk to a real server: the Fastify app listening on an ephemeral loopback port, over a
// store on a fresh database of the backend chosen by ROBOT_BRAIN_TEST_BACKEND.
import type { FastifyInstance } from 'fastify'
import type { StoreOptions } from '../../src/config.js'
import { type AppOptions, buildApp } from '../../src/server/app.js'
import { openStore, type Store } from '../../src/store/store.js'
import { type FreshDatabase, freshDatabase, isServerBackend } from '../support/backend.js'

/**
 * Opening (and migrating) a store: PGlite takes seconds, and far longer on a busy 2-core machine;
 * hooks and tests that open one get this much time.
 */
export const OPEN_TIMEOUT_MS = 180_000

export function storeOptionsFor(db: FreshDatabase): StoreOptions {
  const base: StoreOptions = isServerBackend()
    ? { url: db.appUrl, directUrl: db.ownerUrl, driver: db.driver, neon: db.neon }
    : { dataDir: db.dataDir }
  // A short retry budget: a real outage fails the test in seconds.
  return { ...base, retry: { budgetMs: 5_000 } }
}

export interface Server {
  db: FreshDatabase
  store: Store
  app: FastifyInstance
  /** http://127.0.0.1:PORT */
  url: string
  /** fetch relative to the server, JSON bodies in and out. */
  call(method: string, path: string, options?: CallOptions): Promise<Reply>
  /** Closes app and store, then opens both again on the same database. */
  restart(): Promise<void>
  /** Closes app and store (the database stays). */
  stop(): Promise<void>
  /** stop() and drop the database. */
  cleanup(): Promise<void>
}

export interface CallOptions {
  /** A value to send as JSON, or a string to send as it is. */
  body?: unknown
  key?: string
  headers?: Record<string, string>
}

export interface Reply {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field in tests
  body: any
  text: string
}

export async function startServer(
  label: string,
  options: { migrate?: boolean; app?: Partial<AppOptions>; db?: FreshDatabase } = {},
): Promise<Server> {
  const db = options.db ?? (await freshDatabase(label))
  const appOptions: Partial<AppOptions> = { allowAnonymous: true, logger: false, ...options.app }
  let store!: Store
  let app!: FastifyInstance
  let url = ''

  const start = async (migrate: boolean) => {
    store = await openStore(storeOptionsFor(db))
    if (migrate) await store.migrate()
    app = await buildApp({ ...appOptions, store })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  }
  await start(options.migrate !== false)

  const server: Server = {
    db,
    get store() {
      return store
    },
    get app() {
      return app
    },
    get url() {
      return url
    },
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers }
      let body: string | undefined
      if (opts.body !== undefined) {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body)
        headers['content-type'] ??= 'application/json'
      }
      if (opts.key) headers.authorization = `Bearer ${opts.key}`
      const res = await fetch(url + path, { method, headers, body })
      const text = await res.text()
      let parsed: unknown
      try {
        parsed = text ? JSON.parse(text) : undefined
      } catch {
        parsed = undefined
      }
      return { status: res.status, headers: res.headers, body: parsed, text }
    },
    async restart() {
      await server.stop()
      await start(false)
    },
    async stop() {
      await app.close()
      await store.close()
    },
    async cleanup() {
      await server.stop().catch(() => {})
      await db.drop()
    },
  }
  return server
}

/** A UUIDv7 for a turn or event id, made the way clients do. */
export { newId } from '../../src/store/ids.js'
