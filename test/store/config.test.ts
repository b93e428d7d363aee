// Configuration: Neon's pooled/direct convention, channel binding, and secrets kept out of output.
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { optionsFromEnv, redactedConfig, resolveConfig } from '../../src/config.js'
import { pgPool } from '../../src/db/pg.js'
import { pgUrlOptions } from '../../src/db/urls.js'
import { ConfigError } from '../../src/errors.js'
import { openStore } from '../../src/store/store.js'
import { PG_HOST, PG_PORT, SUPERUSER } from '../support/backend.js'
import { backend, serverBackend } from '../support/store.js'

const SECRET = 'S3cr3t-p@ss/word'
const ENCODED = encodeURIComponent(SECRET)
const NEON_POOLED = `postgresql://neondb_owner:${ENCODED}@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require`

/** Neither the password nor its URL-encoded form appears in `text`. */
function expectNoSecret(text: string): void {
  expect(text).not.toContain(SECRET)
  expect(text).not.toContain(ENCODED)
  expect(text).not.toContain('S3cr3t')
}

describe(`configuration (${backend})`, () => {
  it('derives the direct URL from a Neon -pooler host, keeping everything else', () => {
    const config = resolveConfig({ url: NEON_POOLED })
    expect(config.driver).toBe('pg')
    const direct = new URL(config.directUrl as string)
    expect(direct.hostname).toBe('ep-cool-darkness-123456.us-east-2.aws.neon.tech')
    expect(direct.username).toBe('neondb_owner')
    expect(decodeURIComponent(direct.password)).toBe(SECRET)
    expect(direct.pathname).toBe('/neondb')
    expect(direct.searchParams.get('sslmode')).toBe('require')
    expect(direct.searchParams.get('channel_binding')).toBe('require')
    // Neon's pooler keeps protocol-level prepared statements.
    expect(config.preparedStatements).toBe(true)
  })

  it('uses an explicit direct URL, and leaves other URLs as they are', () => {
    const explicit = resolveConfig({
      url: NEON_POOLED,
      directUrl: 'postgres://owner@db.internal:5432/neondb',
    })
    expect(explicit.directUrl).toBe('postgres://owner@db.internal:5432/neondb')
    const plain = resolveConfig({ url: 'postgres://app@db.example.com:5432/app' })
    expect(plain.directUrl).toBe('postgres://app@db.example.com:5432/app')
    // "-pooler" elsewhere than the first label is not Neon's pooled endpoint.
    const lookalike = resolveConfig({ url: 'postgres://app@db.ep-pooler-x.example.com/app' })
    expect(lookalike.directUrl).toBe('postgres://app@db.ep-pooler-x.example.com/app')
    const bouncer = resolveConfig({ url: 'postgres://app@127.0.0.1:6432/app' })
    expect(bouncer.preparedStatements).toBe(false)
    expect(resolveConfig({}).driver).toBe('pglite')
  })

  it('reads the environment as documented', () => {
    const env = {
      NEON_DATABASE_URL: NEON_POOLED,
      DATABASE_URL_UNPOOLED: 'postgres://owner@direct.example.com/db',
      DATABASE_READ_URL: 'postgres://reader@replica.example.com/db',
      DATABASE_DRIVER: 'neon',
    }
    const options = optionsFromEnv(env)
    expect(options).toMatchObject({
      url: NEON_POOLED,
      directUrl: 'postgres://owner@direct.example.com/db',
      readUrl: 'postgres://reader@replica.example.com/db',
      driver: 'neon',
    })
    expect(optionsFromEnv({ ...env, DATABASE_URL: 'postgres://first@a.example.com/db' }).url).toBe(
      'postgres://first@a.example.com/db',
    )
    expect(() => optionsFromEnv({ DATABASE_DRIVER: 'mysql' })).toThrow(ConfigError)
  })

  it('knows a pooler by its host or port, and by DATABASE_POOLED for any other', () => {
    expect(resolveConfig({ url: 'postgres://a@ep-x-pooler.neon.tech/db' }).pooled).toBe(true)
    expect(resolveConfig({ url: 'postgres://a@ep-x-pooler.neon.tech/db' }).preparedStatements).toBe(true)
    expect(resolveConfig({ url: 'postgres://a@10.0.0.5:6432/db' }).pooled).toBe(true)
    expect(resolveConfig({ url: 'postgres://a@10.0.0.5:6432/db' }).preparedStatements).toBe(false)
    expect(resolveConfig({ url: 'postgres://a@10.0.0.5:5432/db' }).pooled).toBe(false)
    const custom = resolveConfig({
      ...optionsFromEnv({ DATABASE_URL: 'postgres://a@10.0.0.5:7000/db', DATABASE_POOLED: 'true' }),
    })
    expect(custom.pooled).toBe(true)
    expect(custom.preparedStatements).toBe(false)
    expect(resolveConfig({ url: 'postgres://a@10.0.0.5:6432/db', pooled: false }).pooled).toBe(false)
    expect(resolveConfig({}).pooled).toBe(false)
  })

  it('channel_binding=require turns on enableChannelBinding (node-postgres does not read it from the URL)', () => {
    const opts = pgUrlOptions(NEON_POOLED)
    expect(opts.enableChannelBinding).toBe(true)
    expect(new URL(opts.connectionString).searchParams.has('channel_binding')).toBe(false)
    expect(new URL(opts.connectionString).searchParams.get('sslmode')).toBe('require')
    expect(
      pgUrlOptions(NEON_POOLED.replace('require&channel_binding=require', 'require')).enableChannelBinding,
    ).toBe(false)
    expect(
      pgUrlOptions(NEON_POOLED.replace('channel_binding=require', 'channel_binding=prefer'))
        .enableChannelBinding,
    ).toBe(false)
    // The pool the store builds carries it (creating a pool does not connect).
    const config = resolveConfig({ url: NEON_POOLED })
    const pool = pgPool(config.url as string, config)
    expect(
      (pool as unknown as { options: { enableChannelBinding?: boolean } }).options.enableChannelBinding,
    ).toBe(true)
    void pool.end()
  })

  it('inspect() and JSON.stringify() of a config never show the password', () => {
    const config = resolveConfig({
      url: NEON_POOLED,
      readUrl: `postgres://reader:${ENCODED}@replica.example.com/db?password=${ENCODED}`,
    })
    for (const text of [
      inspect(config, { depth: null }),
      JSON.stringify(config),
      JSON.stringify(redactedConfig(config)),
    ]) {
      expectNoSecret(text)
      expect(text).toContain('ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech')
      expect(text).toContain('***')
    }
    // The config itself still works.
    expect(decodeURIComponent(new URL(config.url as string).password)).toBe(SECRET)
  })

  it('errors about bad URLs never show the password', () => {
    for (const url of [
      `mysql://root:${ENCODED}@db.example.com/app`,
      `postgres://root:${ENCODED}@db.example.com:notaport/app`,
      `postgres://root:${ENCODED}@db.example.com:99999/app`,
      `postgres://root:${ENCODED}@db example.com/app`,
    ]) {
      for (const field of ['url', 'directUrl', 'readUrl'] as const) {
        const options = field === 'url' ? { url } : { url: 'postgres://app@db.example.com/app', [field]: url }
        let err: unknown
        try {
          resolveConfig(options)
        } catch (e) {
          err = e
        }
        expect(err, `${field}: ${url}`).toBeInstanceOf(ConfigError)
        expect((err as Error).message.startsWith(`${field}: `)).toBe(true)
        expectNoSecret(`${(err as Error).message}\n${(err as Error).stack}\n${inspect(err, { depth: null })}`)
      }
    }
  })

  it('a store that cannot connect fails without showing the password, and so does printing the store', async () => {
    const store = await openStore({
      url: `postgres://app:${ENCODED}@127.0.0.1:1/app`,
      connectTimeoutMs: 2_000,
      retry: { budgetMs: 300, baseDelayMs: 50 },
    })
    try {
      const err = await store.getSession('s').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(Error)
      expectNoSecret(`${(err as Error).message}\n${(err as Error).stack}\n${inspect(err, { depth: null })}`)
      expectNoSecret(inspect(store, { depth: null }))
      expectNoSecret(JSON.stringify(store))
      expectNoSecret(inspect(store.transport, { depth: null }))
      expectNoSecret(JSON.stringify(store.transport))
      expect(inspect(store)).toContain('127.0.0.1:1')
    } finally {
      await store.close()
    }
  })

  it.runIf(serverBackend)('a server refusing the login does not echo the password either', async () => {
    const store = await openStore({
      url: `postgres://${SUPERUSER}:${ENCODED}@${PG_HOST}:${PG_PORT}/rbtest_no_such_database`,
      retry: { budgetMs: 300 },
    })
    try {
      const err = await store.migrate().catch((e: unknown) => e)
      expect((err as Error).message).toMatch(/does not exist/)
      expectNoSecret(`${(err as Error).message}\n${(err as Error).stack}\n${inspect(err, { depth: null })}`)
      expectNoSecret(inspect(store, { depth: null }))
    } finally {
      await store.close()
    }
  })
})
