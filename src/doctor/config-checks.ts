// Checks of the configuration alone (no connection): Neon's pooled/direct split, TLS, channel binding,
// connect timeout. Pure functions of the resolved Config, so each rule is easy to test.
import type { Config } from '../config.js'
import { isNeonPooledUrl, looksPooled, redactUrl } from '../db/urls.js'
import { type Check, fail, ok, skip, warn } from './check.js'

/** Hosts whose traffic never leaves the machine: TLS is optional there. */
export function isLocalHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return (
    h === '' ||
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    h.startsWith('/') // a Unix socket directory
  )
}

/** Neon endpoints: ep-name-123456[-pooler].region.aws.neon.tech (and other clouds under neon.tech). */
export function isNeonHost(hostname: string): boolean {
  return /\.neon\.(tech|build)$/i.test(hostname)
}

/** The host a URL really connects to: a `host=` parameter (socket directory) wins over the authority. */
function hostOf(url: string): string {
  const u = new URL(url)
  return u.searchParams.get('host') ?? u.hostname
}

interface NamedUrl {
  role: 'app' | 'direct' | 'read'
  url: string
}

/** The distinct URLs in use, each named by what it is for. */
export function urlsInUse(config: Config): NamedUrl[] {
  const urls: NamedUrl[] = []
  if (config.url) urls.push({ role: 'app', url: config.url })
  if (config.directUrl && config.directUrl !== config.url)
    urls.push({ role: 'direct', url: config.directUrl })
  if (config.readUrl && config.readUrl !== config.url) urls.push({ role: 'read', url: config.readUrl })
  return urls
}

const hostLabel = (url: string) => {
  const u = new URL(redactUrl(url))
  return `${u.hostname}${u.port ? `:${u.port}` : ''}`
}

export function directUrlCheck(config: Config, explicitDirectUrl: boolean): Check {
  const id = 'direct-url'
  if (!config.url || !config.directUrl) return skip(id, 'embedded database: no URLs')
  if (looksPooled(config.directUrl)) {
    return warn(
      id,
      `migrations and maintenance would run through a transaction pooler (${hostLabel(config.directUrl)})`,
      'set DATABASE_URL_UNPOOLED to the direct endpoint (on Neon: the host without -pooler)',
    )
  }
  if (isNeonPooledUrl(config.url) && !explicitDirectUrl) {
    return ok(
      id,
      `direct URL derived from the pooled one: ${hostLabel(config.directUrl)}`,
      'set DATABASE_URL_UNPOOLED to name the direct endpoint explicitly',
    )
  }
  return ok(id, `migrations use ${hostLabel(config.directUrl)}`)
}

export function appUrlCheck(config: Config): Check {
  const id = 'app-url'
  if (!config.url) return skip(id, 'embedded database: no URLs')
  if (looksPooled(config.url)) return ok(id, `the app uses a pooled endpoint (${hostLabel(config.url)})`)
  if (isNeonHost(hostOf(config.url))) {
    return warn(
      id,
      `the app connects to Neon's direct endpoint ${hostLabel(config.url)}, while a pooled one is available`,
      'put the -pooler host in DATABASE_URL (serverless instances each open connections) and the direct one in DATABASE_URL_UNPOOLED',
    )
  }
  return ok(id, `the app connects directly to ${hostLabel(config.url)}`)
}

const VERIFYING = new Set(['require', 'verify-ca', 'verify-full'])

/** TLS of one URL. node-postgres reads sslmode=require as verify-full: certificate and host name checked. */
export function sslCheck(config: Config, { role, url }: NamedUrl): Check {
  const id = `sslmode (${role})`
  const host = hostOf(url)
  if (config.driver === 'neon') {
    // The serverless driver speaks WebSocket: TLS is wss:// (or TLS inside the socket), not sslmode.
    if (config.neon.secureWebSocket) return ok(id, 'WebSocket over TLS (wss://)')
    const proxyHost = config.neon.wsProxy?.split(/[:/]/)[0] ?? host
    if (isLocalHost(proxyHost)) return ok(id, `plain ws:// to a local proxy (${proxyHost})`)
    return fail(
      id,
      `plain ws:// to ${proxyHost}: traffic and password unencrypted`,
      'unset NEON_WS_SECURE=false',
    )
  }
  const params = new URL(url).searchParams
  const mode = params.get('sslmode')
  if (isLocalHost(host))
    return ok(id, `local connection to ${host || 'a socket'}${mode ? ` (sslmode=${mode})` : ''}`)
  const fix = 'add sslmode=require (or verify-full) to the URL'
  if (mode === null) {
    const ssl = params.get('ssl')
    if (ssl === 'true' || ssl === '1') return ok(id, 'ssl=true: TLS with certificate verification')
    return fail(id, `no sslmode on ${host}: the connection is not encrypted`, fix)
  }
  if (VERIFYING.has(mode)) return ok(id, `sslmode=${mode}: certificate and host name verified`)
  if (mode === 'prefer') {
    return warn(id, 'sslmode=prefer: tools built on libpq (psql, pg_dump) may fall back to plain text', fix)
  }
  if (mode === 'no-verify') return fail(id, 'sslmode=no-verify: certificates are not checked', fix)
  return fail(id, `sslmode=${mode} on ${host}: the connection may be unencrypted`, fix)
}

/** Channel binding ties SCRAM authentication to the TLS channel; Neon supports and recommends it. */
export function channelBindingCheck(config: Config): Check {
  const id = 'channel-binding'
  const urls = urlsInUse(config)
  if (urls.length === 0) return skip(id, 'embedded database: no URLs')
  if (config.driver === 'neon') return skip(id, 'not used by the WebSocket driver')
  const neon = urls.filter((u) => isNeonHost(hostOf(u.url)))
  const missing = neon.filter((u) => new URL(u.url).searchParams.get('channel_binding') !== 'require')
  if (missing.length > 0) {
    return warn(
      id,
      `no channel_binding=require on the Neon ${missing.map((u) => u.role).join(' and ')} URL`,
      'add channel_binding=require to the URL (the store passes it to node-postgres)',
    )
  }
  if (neon.length > 0) return ok(id, 'channel_binding=require')
  const any = urls.some((u) => new URL(u.url).searchParams.get('channel_binding') === 'require')
  return any ? ok(id, 'channel_binding=require') : skip(id, 'not set (optional outside Neon)')
}

export function connectTimeoutCheck(config: Config): Check {
  const id = 'connect-timeout'
  if (!config.url) return skip(id, 'embedded database: no network')
  const s = config.connectTimeoutMs / 1000
  if (config.connectTimeoutMs < 10_000) {
    return warn(
      id,
      `${s} s: a suspended Neon compute can take seconds to wake`,
      'set DATABASE_CONNECT_TIMEOUT_MS to 10000-15000',
    )
  }
  return ok(id, `${s} s`)
}

export function configChecks(config: Config, explicitDirectUrl: boolean): Check[] {
  return [
    appUrlCheck(config),
    directUrlCheck(config, explicitDirectUrl),
    ...urlsInUse(config).map((u) => sslCheck(config, u)),
    channelBindingCheck(config),
    connectTimeoutCheck(config),
  ]
}
