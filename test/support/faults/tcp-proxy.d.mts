// Types for tcp-proxy.mjs.
export const NEON_WAKING_MESSAGE: string
export function errorResponse(code: string, message: string): Buffer

export interface TcpProxy {
  port: number
  url(database: string, user?: string): string
  connections(): number
  stats(): { accepted: number; answeredWaking: number }
  dropAll(): number
  /** Drops every connection, refuses (ECONNREFUSED) for refuseMs, answers Neon's XX000 for wakingMs. */
  wake(options?: { refuseMs?: number; wakingMs?: number }): Promise<void>
  close(): Promise<void>
}

export function startTcpProxy(options: {
  target: { host: string; port: number }
  port?: number
}): Promise<TcpProxy>
