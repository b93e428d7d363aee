// Watches the multi-row statements a store sends on its app pool, by prepared-statement name: how
// many, and how many rows each carried (the length of its id array, the second parameter). The
// statements still run against the real database; this only counts them.
import type { SqlQuery } from '../../src/db/pool.js'
import type { Store } from '../../src/store/store.js'

export interface StatementWatch {
  /** Rows of each statement sent, in order. */
  sizes: number[]
  stop(): void
}

export function watchStatements(store: Store, name: string): StatementWatch {
  const app = store.transport.app
  const original = app.query.bind(app)
  const sizes: number[] = []
  app.query = ((q: SqlQuery | string) => {
    if (typeof q !== 'string' && q.name === name) sizes.push(((q.values ?? [])[1] as unknown[]).length)
    return original(q as SqlQuery)
  }) as typeof app.query
  return {
    sizes,
    stop: () => {
      app.query = original
    },
  }
}
