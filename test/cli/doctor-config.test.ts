// The configuration rules of `doctor`, on Neon-shaped URLs that cannot be reached from a test machine:
// pure functions of the resolved Config, so no database is involved.
import { describe, expect, it } from 'vitest'
import { resolveConfig, type StoreOptions } from '../../src/config.js'
import { scrub } from '../../src/doctor/check.js'
import { configChecks, isLocalHost, isNeonHost } from '../../src/doctor/config-checks.js'

const NEON = 'ep-cool-lab-a1b2c3.us-east-2.aws.neon.tech'
const NEON_POOLED = 'ep-cool-lab-a1b2c3-pooler.us-east-2.aws.neon.tech'

function checks(options: StoreOptions) {
  const list = configChecks(resolveConfig(options), options.directUrl !== undefined)
  return Object.fromEntries(list.map((c) => [c.id, c]))
}

describe('doctor configuration checks', () => {
  it('a pooled Neon URL alone: direct URL derived (ok, with a tip), TLS ok, channel binding missing (warn)', () => {
    const c = checks({ url: `postgres://app:pw@${NEON_POOLED}/neondb?sslmode=require` })
    expect(c['app-url']?.status).toBe('ok')
    expect(c['direct-url']).toMatchObject({ status: 'ok', message: expect.stringContaining(NEON) })
    expect(c['direct-url']?.fix).toMatch(/DATABASE_URL_UNPOOLED/)
    expect(c['sslmode (app)']?.status).toBe('ok')
    expect(c['sslmode (direct)']?.status).toBe('ok')
    expect(c['channel-binding']).toMatchObject({
      status: 'warn',
      fix: expect.stringMatching(/channel_binding=require/),
    })
  })

  it('the recommended Neon setup passes every configuration check', () => {
    const q = 'sslmode=require&channel_binding=require'
    const c = checks({
      url: `postgres://app:pw@${NEON_POOLED}/neondb?${q}`,
      directUrl: `postgres://owner:pw@${NEON}/neondb?${q}`,
    })
    expect(Object.values(c).filter((x) => x.status !== 'ok')).toEqual([])
  })

  it('warns when the app uses the direct Neon host, and when migrations would go through a pooler', () => {
    const direct = checks({ url: `postgres://app:pw@${NEON}/neondb?sslmode=require&channel_binding=require` })
    expect(direct['app-url']).toMatchObject({ status: 'warn', fix: expect.stringMatching(/-pooler/) })
    const pooledMigrations = checks({
      url: `postgres://app:pw@${NEON_POOLED}/neondb?sslmode=require`,
      directUrl: `postgres://owner:pw@${NEON_POOLED}/neondb?sslmode=require`,
    })
    expect(pooledMigrations['direct-url']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/pooler/),
    })
    const bouncer = checks({ url: 'postgres://app@127.0.0.1:6432/db' })
    expect(bouncer['direct-url']?.status).toBe('warn')
  })

  it('sslmode on a remote host: missing, disable, allow and no-verify fail; prefer warns; require and verify-full pass', () => {
    const mode = (m: string | null) => {
      const url = `postgres://u:pw@db.example.com/app${m === null ? '' : `?sslmode=${m}`}`
      return checks({ url })['sslmode (app)']?.status
    }
    expect([null, 'disable', 'allow', 'no-verify'].map(mode)).toEqual(['fail', 'fail', 'fail', 'fail'])
    expect(mode('prefer')).toBe('warn')
    expect(['require', 'verify-ca', 'verify-full'].map(mode)).toEqual(['ok', 'ok', 'ok'])
    // A local host needs no TLS; neither does a Unix socket.
    expect(checks({ url: 'postgres://u@localhost/app?sslmode=disable' })['sslmode (app)']?.status).toBe('ok')
    expect(checks({ url: 'postgres://u@x/app?host=/var/run/postgresql' })['sslmode (app)']?.status).toBe('ok')
    // The read URL is checked too.
    const read = checks({ url: 'postgres://u@127.0.0.1/a', readUrl: 'postgres://u:pw@replica.example.com/a' })
    expect(read['sslmode (read)']?.status).toBe('fail')
  })

  it('the Neon WebSocket driver: wss passes, plain ws to a remote proxy fails', () => {
    const url = `postgres://app:pw@${NEON_POOLED}/neondb`
    expect(checks({ url, driver: 'neon' })['sslmode (app)']?.status).toBe('ok')
    const local = checks({
      url,
      driver: 'neon',
      neon: { wsProxy: '127.0.0.1:5480/v1', secureWebSocket: false },
    })
    expect(local['sslmode (app)']?.status).toBe('ok')
    const remote = checks({
      url,
      driver: 'neon',
      neon: { wsProxy: 'proxy.example.com/v1', secureWebSocket: false },
    })
    expect(remote['sslmode (app)']?.status).toBe('fail')
  })

  it('connect timeout under 10 s warns; the embedded database skips the URL checks', () => {
    expect(
      checks({ url: 'postgres://u@127.0.0.1/a', connectTimeoutMs: 5000 })['connect-timeout']?.status,
    ).toBe('warn')
    expect(
      checks({ url: 'postgres://u@127.0.0.1/a', connectTimeoutMs: 10_000 })['connect-timeout']?.status,
    ).toBe('ok')
    const embedded = checks({ dataDir: 'memory://' })
    expect(Object.values(embedded).map((c) => c.status)).toEqual(['skip', 'skip', 'skip', 'skip'])
  })

  it('messages never carry a URL password', () => {
    const url = `postgres://app:${encodeURIComponent('p@ss:w/rd')}@${NEON_POOLED}/neondb?sslmode=disable`
    const text = JSON.stringify(configChecks(resolveConfig({ url }), false))
    expect(text).not.toContain('p@ss:w/rd')
    expect(text).not.toContain(encodeURIComponent('p@ss:w/rd'))
    expect(scrub(`auth failed for p@ss:w/rd and ${encodeURIComponent('p@ss:w/rd')}`, [url])).toBe(
      'auth failed for *** and ***',
    )
  })

  it('classifies hosts', () => {
    expect(['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'api.localhost', ''].every(isLocalHost)).toBe(
      true,
    )
    expect(['db.example.com', '192.0.2.10', 'localhost.example.com'].some(isLocalHost)).toBe(false)
    expect(isNeonHost(NEON) && isNeonHost(NEON_POOLED)).toBe(true)
    expect(isNeonHost('neon.tech.example.com')).toBe(false)
  })
})
