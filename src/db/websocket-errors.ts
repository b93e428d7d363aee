// The Neon serverless driver rejects with what its WebSocket emitted: a refused or failed socket gives
// a DOM-style ErrorEvent (from the `ws` package: `message`, and the socket's Error in `error`), which
// is not an Error, carries no code and has no stack. This turns such values into Errors that keep the
// socket's code (ECONNREFUSED, ...), so the retry classifier treats them like any socket error and,
// once the budget is spent, the store wraps them in its typed UnavailableError.

/** A WebSocket to the database failed; `code` is the socket's (e.g. ECONNREFUSED) when it had one. */
export class WebSocketConnectionError extends Error {
  readonly code: string | undefined
  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options)
    this.name = 'WebSocketConnectionError'
    this.code = code
  }
}

interface EventLike {
  type?: unknown
  message?: unknown
  error?: unknown
}

/** Whether `err` is an event object (ErrorEvent or the like) rather than an Error. */
export function isErrorEvent(err: unknown): boolean {
  if (!err || typeof err !== 'object' || err instanceof Error) return false
  const e = err as EventLike
  return e.type === 'error' || e.error instanceof Error
}

/** `err` as an Error: WebSocket error events become WebSocketConnectionError; anything else unchanged. */
export function fromWebSocketEvent(err: unknown): unknown {
  if (!isErrorEvent(err)) return err
  const e = err as EventLike
  const inner = e.error instanceof Error ? e.error : undefined
  const code = (inner as { code?: unknown } | undefined)?.code
  const detail =
    (typeof e.message === 'string' && e.message) || inner?.message || 'the socket reported an error'
  return new WebSocketConnectionError(
    `WebSocket connection error: ${detail}`,
    typeof code === 'string' ? code : undefined,
    { cause: inner ?? err },
  )
}

function rethrow(err: unknown): never {
  throw fromWebSocketEvent(err)
}

/** A query's promise with its rejection normalized; a non-promise result (a COPY stream) unchanged. */
function normalized(result: unknown): unknown {
  return result instanceof Promise ? result.catch(rethrow) : result
}

interface RawClient {
  query(query: unknown): unknown
  release(destroy?: boolean | Error): void
}

interface RawPool {
  connect(): Promise<RawClient>
  query(query: unknown): unknown
  end(): Promise<void>
}

/**
 * The pool with every rejection passed through fromWebSocketEvent. A checked-out connection is wrapped
 * once per physical connection (the same wrapper each checkout), so per-connection state keyed on it
 * (the role a connection acts as) stays valid.
 */
export function normalizeWebSocketErrors<P extends RawPool>(pool: P): P {
  const clients = new WeakMap<RawClient, RawClient>()
  const wrap = (raw: RawClient): RawClient => {
    let client = clients.get(raw)
    if (!client) {
      client = {
        query: (q) => normalized(raw.query(q)),
        release: (destroy) => raw.release(destroy),
      }
      clients.set(raw, client)
    }
    return client
  }
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'connect') return () => target.connect().then(wrap, rethrow)
      if (prop === 'query') return (q: unknown) => normalized(target.query(q))
      const value = Reflect.get(target, prop, receiver)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
