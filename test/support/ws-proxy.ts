// Typed entry point for the WebSocket-to-TCP proxy used by the `neon` test backend.
// The implementation is scripts/ws-proxy.mjs (also runnable standalone: node scripts/ws-proxy.mjs --port 5480).

export type { WsProxy, WsProxyOptions, WsProxyTarget } from '../../scripts/ws-proxy.mjs'
export { isLoopbackHost, parseAddress, startWsProxy } from '../../scripts/ws-proxy.mjs'

/** The `neonConfig.wsProxy` string for a proxy listening on `port` (the driver appends `?address=host:port`). */
export function wsProxyAddress(port: number): string {
  return `127.0.0.1:${port}/v1`
}
