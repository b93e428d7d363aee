// Calls to the server's API with the key the user typed (sessionStorage only: gone with the tab).
// A 401 asks for a key through onNeedKey; other errors carry the server's message and status.

const KEY_ITEM = 'robot-brain-db.key'
const TOKEN_ITEM = 'robot-brain-db.metrics-token'

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

let needKey = () => {}

/** Called with the server's message when a request is refused for want of a (valid) key. */
export function onNeedKey(handler) {
  needKey = handler
}

export const key = {
  get: () => sessionStorage.getItem(KEY_ITEM) ?? '',
  set: (value) => sessionStorage.setItem(KEY_ITEM, value),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
}

/** The metrics token, for /metrics and /monitoring when the server has one. */
export const metricsToken = {
  get: () => sessionStorage.getItem(TOKEN_ITEM) ?? '',
  set: (value) => sessionStorage.setItem(TOKEN_ITEM, value),
}

function bearer(secret) {
  return secret ? { authorization: `Bearer ${secret}` } : {}
}

async function failure(res) {
  const body = await res.json().catch(() => null)
  const code = body?.error?.code ?? 'error'
  const message = body?.error?.message ?? `${res.status} ${res.statusText}`
  return new ApiError(res.status, code, message)
}

/** GET a /v1 path with query parameters (undefined and '' left out); the parsed JSON answer. */
export async function apiGet(path, params = {}) {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value))
  }
  const qs = query.toString()
  const res = await fetch(`/v1${path}${qs ? `?${qs}` : ''}`, { headers: bearer(key.get()) })
  if (res.ok) return res.json()
  const err = await failure(res)
  if (res.status === 401) needKey(err.message)
  throw err
}

/** GET an operator path (/monitoring, /metrics): the metrics token when one was given. */
export async function opsGet(path, as = 'json') {
  const res = await fetch(path, { headers: bearer(metricsToken.get()) })
  if (!res.ok) throw await failure(res)
  return as === 'text' ? res.text() : res.json()
}

/** GET /readyz: true, or the reason the server is not ready. */
export async function readiness() {
  try {
    const res = await fetch('/readyz')
    if (res.ok) return { ready: true, message: 'ready' }
    return { ready: false, message: (await failure(res)).message }
  } catch {
    return { ready: false, message: 'the server does not answer' }
  }
}
