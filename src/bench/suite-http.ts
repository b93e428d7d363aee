// Suite d: the HTTP API under autocannon versus the same calls made in-process on the same store,
// at the same concurrency: what the HTTP layer (parsing, validation, JSON, sockets) costs. The load
// generator runs in the server's process, as a co-located client would, and shares its CPU.
import { performance } from 'node:perf_hooks'
import { type CompareOptions, compare, type RunResult, runClosedLoop } from './load.js'
import { makeTurn, ROBOT_RESPONSE, USER_MESSAGE } from './payload.js'
import type { ResultRow } from './report.js'
import type { Target } from './targets.js'

export const HTTP_CONNECTIONS = 8

interface HttpApp {
  listen(opts: { port: number; host: string }): Promise<string>
  close(): Promise<unknown>
}

type BuildApp = (opts: Record<string, unknown>) => HttpApp | Promise<HttpApp>
type Autocannon = (
  opts: Record<string, unknown>,
  cb: (err: Error | null, result: AutocannonResult) => void,
) => {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void
}
interface AutocannonResult {
  errors: number
  timeouts: number
  non2xx: number
}

/** The HTTP app and autocannon, or why the suite cannot run. */
export async function loadHttpDeps(): Promise<{ buildApp: BuildApp; autocannon: Autocannon } | string> {
  let buildApp: BuildApp | undefined
  try {
    // A variable specifier: the server is written apart, and may not be there yet.
    const spec = '../server/app.js'
    const mod = (await import(spec)) as { buildApp?: BuildApp }
    buildApp = mod.buildApp
  } catch (err) {
    return `HTTP suite skipped: the HTTP app (src/server/app.ts) could not be loaded (${(err as Error).message.split('\n')[0]})`
  }
  if (typeof buildApp !== 'function')
    return 'HTTP suite skipped: src/server/app.ts does not export buildApp yet'
  try {
    const mod = (await import('autocannon')) as unknown as { default?: Autocannon }
    if (!mod.default) throw new Error('no default export')
    return { buildApp, autocannon: mod.default }
  } catch {
    return 'HTTP suite skipped: autocannon is not installed (a development dependency: npm install)'
  }
}

function cannon(
  autocannon: Autocannon,
  ms: number,
  request: Record<string, unknown>,
  url: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = []
    // Status of every non-2xx answer, so a failed run says what the server answered, not just how often.
    const statuses = new Map<number, number>()
    const start = performance.now()
    const instance = autocannon(
      { url, connections: HTTP_CONNECTIONS, duration: ms / 1000, requests: [request] },
      (err, res) => {
        if (err) return reject(err)
        if (res.errors || res.timeouts || res.non2xx) {
          return reject(
            new Error(
              `HTTP load had ${res.errors} errors, ${res.timeouts} timeouts, ${res.non2xx} non-2xx answers` +
                (statuses.size
                  ? ` (${[...statuses].map(([status, n]) => `${n} × ${status}`).join(', ')})`
                  : ''),
            ),
          )
        }
        resolve({ latencies, elapsedMs: performance.now() - start })
      },
    )
    instance.on('response', (_client, status, _bytes, rt) => {
      latencies.push(rt)
      if (status < 200 || status > 299) statuses.set(status, (statuses.get(status) ?? 0) + 1)
    })
  })
}

export async function runHttpSuite(
  target: Target,
  deps: { buildApp: BuildApp; autocannon: Autocannon },
  opts: CompareOptions,
): Promise<ResultRow[]> {
  const store = target.root
  // Bound to loopback with no key created: requests act as tenant default, like the in-process calls.
  const app = await deps.buildApp({ store, logger: false, allowAnonymous: true })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  try {
    const rows: ResultRow[] = []
    const body = JSON.stringify({
      robotPersonality: 'cheerful',
      userMessage: USER_MESSAGE,
      robotResponse: ROBOT_RESPONSE,
      metadata: { channel: 'web' },
    })
    let conn = 0
    const post = await compare(
      {
        run: (ms) =>
          runClosedLoop(HTTP_CONNECTIONS, ms, (w, seq) => store.recordTurn(makeTurn(`tinproc-${w}`, seq))),
      },
      {
        run: (ms) =>
          cannon(
            deps.autocannon,
            ms,
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
              setupRequest: (req: Record<string, unknown>, ctx: { sid?: string }) => {
                ctx.sid ??= `thttp-${conn++}`
                return { ...req, path: `/v1/sessions/${ctx.sid}/turns` }
              },
            },
            base,
          ),
      },
      opts,
    )
    rows.push(row(target, `POST turn, ${HTTP_CONNECTIONS} connections`, 'http.post-turn', 'turns/s', post))

    const sid = 'thttp-history'
    for (let i = 0; i < 40; i++) await store.recordTurn(makeTurn(sid, i))
    const get = await compare(
      {
        run: (ms) =>
          runClosedLoop(HTTP_CONNECTIONS, ms, async () => {
            const page = await store.history(sid, { limit: 20 })
            if (page.turns.length !== 20) throw new Error(`history returned ${page.turns.length} turns`)
          }),
      },
      {
        run: (ms) =>
          cannon(deps.autocannon, ms, { method: 'GET', path: `/v1/sessions/${sid}/turns?limit=20` }, base),
      },
      opts,
    )
    rows.push(
      row(
        target,
        `GET history (20 turns), ${HTTP_CONNECTIONS} connections`,
        'http.get-history',
        'reads/s',
        get,
      ),
    )

    // What the per-key rate limit costs: the same GET on a second app that counts every request
    // (a limit no run reaches), against the app above, which has none.
    const limited = await deps.buildApp({
      store,
      logger: false,
      allowAnonymous: true,
      rateLimit: { max: 1_000_000_000, timeWindowMs: 60_000 },
    })
    const limitedBase = await limited.listen({ port: 0, host: '127.0.0.1' })
    try {
      const path = `/v1/sessions/${sid}/turns?limit=20`
      const rl = await compare(
        { run: (ms) => cannon(deps.autocannon, ms, { method: 'GET', path }, base) },
        { run: (ms) => cannon(deps.autocannon, ms, { method: 'GET', path }, limitedBase) },
        opts,
      )
      rows.push({
        ...row(
          target,
          `GET history, per-key rate limit on, ${HTTP_CONNECTIONS} connections`,
          'http.rate-limit',
          'reads/s',
          rl,
        ),
        baselineName: 'rate limit off',
        projectName: 'rate limit on',
      })
    } finally {
      await limited.close()
    }
    return rows
  } finally {
    await app.close()
  }
}

function row(
  target: Target,
  name: string,
  key: string,
  unit: string,
  cmp: Awaited<ReturnType<typeof compare>>,
): ResultRow {
  return {
    suite: 'http',
    target: target.name,
    case: name,
    key: `${key}.${target.name}`,
    unit,
    baselineName: 'same call in-process',
    projectName: 'HTTP (autocannon)',
    ...cmp,
  }
}
