// Types for scripts/ws-proxy.mjs (the implementation lives there, in plain JS, so it can run standalone).
export interface WsProxyTarget {
  host: string
  port: number
}

export interface WsProxyOptions {
  /** Listen port; 0 or undefined picks a free port. */
  port?: number
  /** Listen address (default 127.0.0.1). */
  host?: string
  /** Target used when the client sends no ?address=host:port. Must be loopback. */
  target?: WsProxyTarget
  log?: (msg: string) => void
}

export interface WsProxy {
  port: number
  /** e.g. ws://127.0.0.1:5480/v1 */
  url: string
  activeConnections(): number
  /** Abruptly terminates every open socket pair; returns how many were dropped. */
  dropAll(): number
  close(): Promise<void>
}

export function startWsProxy(opts?: WsProxyOptions): Promise<WsProxy>
export function isLoopbackHost(host: string): boolean
export function parseAddress(address: string): WsProxyTarget | undefined
