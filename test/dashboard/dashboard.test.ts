/// <reference lib="dom" />
// The dashboard in a real browser (Debian's chromium via playwright-core) against a real server on
// seeded data: every page loads without console errors or CSP violations, the session explorer's
// transcript matches the API, search finds a seeded turn and shows stored text as text, the charts
// draw, a server with keys asks for one, and a phone-width screen never scrolls sideways. Screenshots
// of each page are saved under test-artifacts/ (or ROBOT_BRAIN_TEST_ARTIFACTS).
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyStore } from '../../src/keys/keys.js'
import { runSeed } from '../../src/seed/run.js'
import { PERSONALITIES } from '../../src/seed/voices.js'
import { newId, OPEN_TIMEOUT_MS, type Server, startServer } from '../http/support.js'
import { backendName } from '../support/backend.js'
import { launch, type PageProblems, screenshot, watchedPage } from './browser.js'

const backend = backendName()
const DAY_MS = 86_400_000
/** Stored text that would run if the page ever used it as HTML. */
const HOSTILE = '<img src=x onerror="window.__owned=1"> <b>bold?</b> zebracorn'

// On pglite and pg only: the page reads the same HTTP API whose SQL paths the API tests cover on
// PgBouncer and Neon too, and a browser run adds about a minute per backend on a 2-core machine.
describe.skipIf(backend === 'pgbouncer' || backend === 'neon')(`dashboard in a browser (${backend})`, () => {
  let server: Server
  let browser: Browser
  let context: BrowserContext

  beforeAll(async () => {
    ;[server, browser] = await Promise.all([startServer('dashboard'), launch()])
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  }, OPEN_TIMEOUT_MS)

  // Its own hook, so opening the store (slow for the embedded database on a busy machine) and seeding
  // each get their time.
  beforeAll(async () => {
    const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000)
    await runSeed(server.store.transport.owner, 'default', {
      sessions: 30,
      turns: 3,
      events: 120,
      from: new Date(to.getTime() - 10 * DAY_MS),
      to,
      personalities: PERSONALITIES,
      seed: 16,
      batchSize: 500,
    })
    // Two sessions of one user, for the user filter; one turn holds markup.
    for (const id of ['ada-first', 'ada-second']) {
      expect((await server.call('PUT', `/v1/sessions/${id}`, { body: { userId: 'ada' } })).status).toBe(201)
    }
    const turn = await server.call('POST', '/v1/sessions/ada-first/turns', {
      body: {
        id: newId(),
        robotPersonality: 'pirate',
        userMessage: HOSTILE,
        robotResponse: 'Arr, markup stays text.',
      },
    })
    expect(turn.status).toBe(201)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.cleanup()
  })

  async function open(
    hash: string,
    ready: string,
    ctx = context,
  ): Promise<{ page: Page; problems: PageProblems }> {
    const watched = await watchedPage(ctx)
    await watched.page.goto(`${server.url}/${hash}`)
    try {
      await watched.page.waitForSelector(ready)
    } catch (err) {
      // What the page showed instead, for the failure message and the artifacts.
      await screenshot(watched.page, `dashboard-${backend}-failed-${hash.replace(/[^a-z]+/g, '-')}`)
      throw new Error(`${hash}: ${(err as Error).message}\npage: ${await watched.page.textContent('#page')}`)
    }
    return watched
  }

  function expectClean(problems: PageProblems): void {
    expect(problems.exceptions).toEqual([])
    expect(problems.csp).toEqual([])
    expect(problems.console).toEqual([])
  }

  it('overview: readiness, API traffic and the monitoring report, refreshed', async () => {
    const { page, problems } = await open('#/overview', '#cards .card')
    await expect.poll(() => page.textContent('#cards')).toContain('ready')
    const text = (await page.textContent('#page')) ?? ''
    expect(text).toContain('Cache hit ratio')
    expect(text).toContain('Embedding backlog')
    expect(text).toContain('Tables and partitions')
    // Every partition of the seeded months is listed with its rows.
    const month = new Date().toISOString().slice(0, 7).replace('-', '_')
    expect(text).toContain(`conversations_p${month}`)
    if (backend === 'pglite') expect(text).toContain('Not applicable here')
    else expect(text).toContain('Connections by state')
    await screenshot(page, `dashboard-${backend}-overview`)
    expectClean(problems)
    await page.close()
  })

  it('session explorer: lists, filters by user, pages, and opens a transcript matching the API', async () => {
    const { page, problems } = await open('#/sessions', 'table.sessions tbody tr')
    const api = await server.call('GET', '/v1/sessions?limit=25')
    const shown = await page.$$eval('table.sessions .session-link', (links) =>
      links.map((a) => a.textContent),
    )
    expect(shown).toEqual(api.body.sessions.map((s: { id: string }) => s.id))
    // 32 sessions, 25 a page: the next page holds the rest.
    await page.click('#next-page')
    await page.waitForFunction(() => location.hash.includes('cursor='))
    await page.waitForSelector('table.sessions tbody tr')
    const next = await server.call(
      'GET',
      `/v1/sessions?limit=25&cursor=${encodeURIComponent(api.body.nextCursor)}`,
    )
    await expect
      .poll(() => page.$$eval('table.sessions .session-link', (links) => links.map((a) => a.textContent)))
      .toEqual(next.body.sessions.map((s: { id: string }) => s.id))

    await page.fill('input[name=user]', 'ada')
    await page.click('form.filters button[type=submit]')
    await expect
      .poll(() =>
        page.$$eval('table.sessions .session-link', (links) => links.map((a) => a.textContent).sort()),
      )
      .toEqual(['ada-first', 'ada-second'])
    // Only ada-first has a turn (a pirate's).
    await page.fill('input[name=personality]', 'pirate')
    await page.click('form.filters button[type=submit]')
    await expect
      .poll(() => page.$$eval('table.sessions .session-link', (links) => links.map((a) => a.textContent)))
      .toEqual(['ada-first'])

    const seeded = api.body.sessions.find((s: { id: string; messageCount: number }) => s.messageCount === 3)
    await page.goto(`${server.url}/#/sessions/${encodeURIComponent(seeded.id)}`)
    await page.waitForSelector('#transcript .msg.robot')
    const turns = await server.call('GET', `/v1/sessions/${encodeURIComponent(seeded.id)}/turns?order=asc`)
    const expected = turns.body.turns.flatMap((t: { userMessage: string; robotResponse: string }) => [
      ['msg user', t.userMessage],
      ['msg robot', t.robotResponse],
    ])
    const bubbles = await page.$$eval('#transcript .msg', (items) =>
      items.map((li) => [li.className, li.querySelector('.text')?.textContent]),
    )
    expect(bubbles).toEqual(expected)
    await screenshot(page, `dashboard-${backend}-transcript`)

    // Stored markup shows as the characters it is made of.
    await page.goto(`${server.url}/#/sessions/ada-first`)
    await page.waitForSelector('#transcript .msg.user')
    expect(await page.textContent('#transcript .msg.user .text')).toBe(HOSTILE)
    expect(await page.textContent('.page-sessions')).not.toContain('null')
    expect(await page.$$('#transcript img, #transcript b')).toEqual([])
    expect(await page.evaluate(() => (window as unknown as { __owned?: number }).__owned)).toBeUndefined()
    await screenshot(page, `dashboard-${backend}-sessions`)
    expectClean(problems)
    await page.close()
  })

  it('search: finds a seeded turn with its snippet highlighted, in every mode it asks for', async () => {
    // A seeded turn with a few plain words (some seeded messages are only an emoji); all of them
    // must match (full text ANDs words).
    const sample = await server.call('GET', '/v1/sessions?limit=25')
    let turn: { id: string; sessionId: string; userMessage: string } | undefined
    let words: string[] = []
    for (const s of sample.body.sessions.filter((s: { id: string }) => !s.id.startsWith('ada-'))) {
      const history = await server.call('GET', `/v1/sessions/${encodeURIComponent(s.id)}/turns`)
      for (const t of history.body.turns) {
        words = (t.userMessage.match(/\b[A-Za-z]{5,}\b/g) ?? []).slice(0, 3)
        if (words.length >= 2) turn = t
        if (turn) break
      }
      if (turn) break
    }
    if (!turn) throw new Error('the seed gave no turn with plain words')
    const params = new URLSearchParams({ q: words.join(' '), mode: 'fulltext', session: turn.sessionId })
    const { page, problems } = await open(`#/search?${params}`, '#results .result')
    const ids = await page.$$eval('#results .result', (items) =>
      items.map((li) => li.getAttribute('data-turn')),
    )
    expect(ids).toContain(turn.id)
    expect(await page.$$('#results .snippet mark')).not.toEqual([])
    await screenshot(page, `dashboard-${backend}-search`)

    // Stored markup in a result stays text (in the whole turn; the snippet drops tags); the server's
    // ** markers become <mark>.
    await page.goto(`${server.url}/#/search?q=zebracorn&mode=fulltext`)
    await page.waitForSelector('#results .result')
    expect(await page.$$eval('#results .snippet mark', (marks) => marks.map((m) => m.textContent))).toContain(
      'zebracorn',
    )
    expect(await page.textContent('#results .result')).toContain('<img src=x')
    expect(await page.$$('#results img, #results b')).toEqual([])
    expect(await page.evaluate(() => (window as unknown as { __owned?: number }).__owned)).toBeUndefined()

    // The form sets the mode and filters in the address; an answer in another mode says which.
    await page.selectOption('#search-mode', 'hybrid')
    await page.fill('#search-q', 'zebracorn')
    await page.click('.search-form button[type=submit]')
    await page.waitForFunction(() => location.hash.includes('mode=hybrid'))
    await expect.poll(() => page.textContent('#page')).toMatch(/result|vector|embedding/i)
    expect(problems.exceptions).toEqual([])
    expect(problems.csp).toEqual([])
    await page.close()
  })

  it('analytics: the charts draw the seeded figures', async () => {
    const { page, problems } = await open('#/analytics?days=30', '#chart-durations canvas')
    for (const id of ['chart-personalities', 'chart-interactions', 'chart-success', 'chart-durations']) {
      const canvas = await page.$(`#${id} canvas`)
      expect(canvas, id).not.toBeNull()
      const drawn = await canvas?.evaluate((c: HTMLCanvasElement) => {
        const pixels =
          c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray()
        // The first series' colour (#2563eb) where uPlot drew it: data, not only axes and grid.
        let first = 0
        for (let i = 0; i < pixels.length; i += 4) {
          const [r, g, b] = [pixels[i] ?? 0, pixels[i + 1] ?? 0, pixels[i + 2] ?? 0]
          if (Math.abs(r - 37) < 24 && Math.abs(g - 99) < 24 && Math.abs(b - 235) < 24) first++
        }
        return { width: c.width, height: c.height, first }
      })
      expect(drawn?.width, id).toBeGreaterThan(200)
      expect(drawn?.height, id).toBeGreaterThan(100)
      expect(drawn?.first, id).toBeGreaterThan(20)
    }
    const api = await server.call('GET', '/v1/analytics/interactions?groupBy=robotId')
    const robots = await page.$$eval('table.robots tbody tr td:first-child', (cells) =>
      cells.map((td) => td.textContent),
    )
    expect(robots).toEqual(api.body.groups.map((g: { key: string }) => g.key))
    await screenshot(page, `dashboard-${backend}-analytics`)
    expectClean(problems)
    await page.close()
  })

  it('at phone width (375 px) no page scrolls sideways', async () => {
    const phone = await browser.newContext({
      viewport: { width: 375, height: 740 },
      isMobile: true,
      hasTouch: true,
    })
    try {
      const { page, problems } = await open('#/overview', '#cards .card', phone)
      // One page, moved by its hash: the dashboard's own navigation, without reloading its scripts.
      for (const [hash, ready] of [
        ['#/overview', '#cards .card'],
        ['#/sessions', 'table.sessions tbody tr'],
        ['#/sessions/ada-first', '#transcript .msg'],
        ['#/search?q=zebracorn&mode=fulltext', '#results .result'],
        ['#/analytics', '#chart-durations canvas'],
      ] as const) {
        await page.evaluate((h) => {
          location.hash = h
        }, hash)
        await page.waitForSelector(ready)
        const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])
        expect(widths[0], hash).toBeLessThanOrEqual(widths[1] ?? 0)
        await screenshot(
          page,
          `dashboard-${backend}-phone-${hash.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`,
        )
      }
      expectClean(problems)
      await page.close()
    } finally {
      await phone.close()
    }
  })

  // Last: once a key exists, this server refuses requests without one.
  it('asks for an API key once the server has keys, keeps it in the tab, and works with it', async () => {
    const created = await new KeyStore(server.store.transport.owner).create('default', 'dashboard test')
    // A key made outside the server counts once its cached "no keys" answer expires (at most 1 s):
    // wait for that, within a bound, or the page may load anonymously before it does.
    const since = Date.now()
    for (;;) {
      const res = await fetch(`${server.url}/v1/sessions`)
      await res.arrayBuffer()
      if (res.status === 401) break
      expect(Date.now() - since, 'anonymous requests still answered after the key cache bound').toBeLessThan(
        2_000,
      )
      await new Promise((r) => setTimeout(r, 100))
    }
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    try {
      const { page, problems } = await open('#/sessions', '#keyform:not([hidden])', fresh)
      expect(await page.textContent('#keyprompt')).toMatch(/API key/)
      await page.fill('#key', created.key)
      await page.click('#keyform button[type=submit]')
      await page.waitForSelector('table.sessions tbody tr')
      expect(await page.isHidden('#keyform')).toBe(true)
      expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(created.key)
      expect(await page.evaluate(() => Object.values(localStorage))).toEqual([])
      // Monitoring shows every tenant: closed to API keys, and the page says how to open it.
      await page.goto(`${server.url}/#/overview`)
      await page.waitForSelector('.refused')
      expect(await page.textContent('.refused')).toContain('ROBOT_BRAIN_METRICS_TOKEN')
      await screenshot(page, `dashboard-${backend}-key-overview`)
      // The browser logs the refused requests (401 before the key, 403 for /monitoring); nothing else.
      expect(problems.console.every((m) => /status of 40[13]/.test(m))).toBe(true)
      expect(problems.exceptions).toEqual([])
      expect(problems.csp).toEqual([])
    } finally {
      await fresh.close()
    }
  })
})
