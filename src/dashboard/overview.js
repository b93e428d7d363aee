// Overview: readiness, API throughput and latency (from /metrics), and the database's monitoring
// report (/monitoring): connections against the limit, slowest statements, cache hit ratio, table
// and index sizes per partition, dead tuples and vacuum, waiting locks, replica lag, queues.
// Refreshed every 5 s while shown.
import { ApiError, metricsToken, opsGet, readiness } from './api.js'
import { card, h, notice, section, table } from './dom.js'
import { ago, bytes, dec, ms, num, pct } from './format.js'
import { difference, parseMetrics, quantile, requestStats } from './prometheus.js'

const REFRESH_MS = 5000

export async function render(container) {
  let previous = null
  let timer = null
  let stopped = false

  const refresh = async () => {
    const [ready, monitoring, metrics] = await Promise.all([
      readiness(),
      opsGet('/monitoring').catch((err) => err),
      opsGet('/metrics', 'text').catch((err) => err),
    ])
    if (stopped) return
    const now = {
      at: Date.now(),
      stats: metrics instanceof Error ? null : requestStats(parseMetrics(metrics)),
    }
    const interval = previous?.stats && now.stats ? difference(now.stats, previous.stats) : null
    const seconds = previous ? (now.at - previous.at) / 1000 : null
    previous = now
    container.replaceChildren(
      h('p', { class: 'updated' }, `Updated ${new Date().toLocaleTimeString('en-US', { hour12: false })}`),
      h('div', { class: 'cards', id: 'cards' }, headline(ready, monitoring, now.stats, interval, seconds)),
      ...(monitoring instanceof Error ? [refused(monitoring, refresh)] : details(monitoring, now.stats)),
    )
  }

  await refresh()
  const loop = async () => {
    await refresh().catch(() => {})
    if (!stopped) timer = setTimeout(loop, REFRESH_MS)
  }
  timer = setTimeout(loop, REFRESH_MS)
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}

function headline(ready, monitoring, stats, interval, seconds) {
  const all = stats?.get('*')
  const recent = interval?.get('*')
  const cards = [
    card(
      'Database',
      ready.ready ? 'ready' : 'not ready',
      ready.ready ? null : ready.message,
      ready.ready ? 'ok' : 'bad',
    ),
  ]
  if (stats) {
    const rate = recent && seconds ? recent.count / seconds : null
    cards.push(
      card(
        'API requests',
        num(all?.count ?? 0),
        rate === null ? 'since start' : `${dec(rate)} per second now`,
      ),
      card(
        'API latency p50 / p95',
        latencyPair(recent?.count ? recent : all),
        recent?.count ? 'last 5 seconds' : 'since start',
      ),
      card('API errors (5xx)', num(all?.errors ?? 0), 'since start', all?.errors ? 'warn' : null),
    )
  }
  if (!(monitoring instanceof Error)) {
    const c = monitoring.connections
    if (c) {
      const usable = c.limit - c.reserved
      cards.push(
        card(
          'Connections',
          `${num(c.total)} / ${num(usable)}`,
          `${num(c.thisDatabase)} to this database`,
          c.total > usable * 0.8 ? 'warn' : null,
        ),
      )
    }
    const ratio = monitoring.cacheHitRatio
    cards.push(
      card(
        'Cache hit ratio',
        pct(ratio, 2),
        `${num(monitoring.cacheBlocks.reads)} blocks read from disk`,
        ratio !== null && ratio < 0.99 ? 'warn' : null,
      ),
    )
    if (monitoring.waitingLocks) {
      cards.push(
        card(
          'Waiting locks',
          num(monitoring.waitingLocks.length),
          null,
          monitoring.waitingLocks.length ? 'warn' : null,
        ),
      )
    }
    cards.push(
      card(
        'Replica lag',
        monitoring.replica
          ? monitoring.replicaLagSeconds === null
            ? 'unknown'
            : `${dec(monitoring.replicaLagSeconds)} s`
          : 'no replica',
        monitoring.replica ? (monitoring.replica.serving ? 'serving reads' : 'reads on the primary') : null,
      ),
      card('Embedding backlog', num(monitoring.embeddingBacklog), 'turns waiting for a vector'),
      card(
        'Interaction buffer',
        monitoring.interactionBuffer ? num(monitoring.interactionBuffer.pending) : 'off',
        monitoring.interactionBuffer
          ? `pending; ${num(monitoring.interactionBuffer.inserted)} inserted`
          : 'events written directly',
      ),
    )
  }
  return cards
}

function latencyPair(e) {
  if (!e || e.count === 0) return '—'
  const p50 = quantile(e.buckets, 0.5)
  const p95 = quantile(e.buckets, 0.95)
  return `${ms(p50 * 1000)} / ${ms(p95 * 1000)}`
}

function refused(err, retry) {
  if (!(err instanceof ApiError))
    return notice('error', `Monitoring figures could not be read: ${err.message}`)
  if (err.status === 404) {
    return notice(
      'info',
      'Monitoring figures are served on the separate metrics port (--metrics-port), not here.',
    )
  }
  const why =
    err.status === 401
      ? 'Monitoring figures need the metrics token (ROBOT_BRAIN_METRICS_TOKEN of the server).'
      : 'Monitoring figures show every tenant, so they are closed while API keys exist; the operator opens them by setting ROBOT_BRAIN_METRICS_TOKEN on the server, then types it here.'
  const input = h('input', { type: 'password', name: 'metrics-token', autocomplete: 'off', required: true })
  const form = h(
    'form',
    {
      class: 'inline-form',
      id: 'metrics-token-form',
      onsubmit: (event) => {
        event.preventDefault()
        metricsToken.set(input.value.trim())
        retry()
      },
    },
    h('label', {}, 'Metrics token ', input),
    h('button', { type: 'submit' }, 'Use token'),
  )
  return h('div', { class: 'refused' }, notice('warn', `${why} (${err.status}: ${err.message})`), form)
}

function details(m, stats) {
  const out = []
  if (m.connections) {
    const c = m.connections
    const usable = c.limit - c.reserved
    out.push(
      section(
        'Connections by state',
        h(
          'div',
          { class: 'bars' },
          Object.entries(c.byState)
            .sort((a, b) => b[1] - a[1])
            .map(([state, n]) =>
              h(
                'div',
                { class: 'bar' },
                h('span', {}, state),
                h('meter', { min: 0, max: usable, value: n }),
                h('span', { class: 'num' }, `${num(n)} / ${num(usable)}`),
              ),
            ),
        ),
        h(
          'p',
          { class: 'note' },
          `max_connections ${num(c.limit)}, of which ${num(c.reserved)} reserved for superusers.`,
        ),
      ),
    )
  }
  if (stats) {
    const routes = [...stats.values()]
      .filter((e) => e.route !== '*' && e.count > 0)
      .sort((a, b) => b.count - a.count)
    out.push(
      section(
        'API routes since start',
        routes.length === 0
          ? h('p', { class: 'note' }, 'No API requests yet.')
          : table(
              ['route', 'requests', '5xx', 'mean', 'p95'],
              routes.slice(0, 12).map((e) => [
                { text: e.route, class: 'mono' },
                { text: num(e.count), class: 'num' },
                { text: num(e.errors), class: 'num' },
                { text: ms((e.sum / e.count) * 1000), class: 'num' },
                { text: ms(quantile(e.buckets, 0.95) * 1000), class: 'num' },
              ]),
            ),
      ),
    )
  }
  const slow = m.slowQueries
  out.push(
    section(
      'Slowest statements (mean time)',
      slow.available
        ? slow.statements.length === 0
          ? h('p', { class: 'note' }, 'No statements recorded yet.')
          : table(
              ['statement', 'calls', 'mean', 'max', 'rows'],
              slow.statements.slice(0, 10).map((s) => [
                { text: s.query, class: 'mono query' },
                { text: num(s.calls), class: 'num' },
                { text: ms(s.meanMs), class: `num${s.meanMs > 100 ? ' bad' : ''}` },
                { text: ms(s.maxMs), class: 'num' },
                { text: num(s.rows), class: 'num' },
              ]),
            )
        : notice('info', slow.reason ?? 'pg_stat_statements is not available.'),
    ),
  )
  out.push(
    section(
      'Tables and partitions',
      table(
        ['table', 'table size', 'index size', 'live rows', 'dead rows', 'last vacuum'],
        withParents(m.relations).map((r) => {
          const vacuum =
            r.parent === undefined
              ? null
              : ([r.lastVacuum, r.lastAutovacuum].filter(Boolean).sort().pop() ?? null)
          const dead = r.liveTuples + r.deadTuples > 0 ? r.deadTuples / (r.liveTuples + r.deadTuples) : 0
          return [
            {
              text: r.name,
              class: r.parent ? 'mono child' : r.parent === undefined ? 'mono parent' : 'mono',
            },
            { text: bytes(r.tableBytes), class: 'num' },
            { text: bytes(r.indexBytes), class: 'num' },
            { text: num(r.liveTuples), class: 'num' },
            { text: num(r.deadTuples), class: `num${dead > 0.2 && r.deadTuples > 1000 ? ' bad' : ''}` },
            { text: r.parent === undefined ? '' : ago(vacuum), class: 'num' },
          ]
        }),
      ),
    ),
  )
  if (m.waitingLocks && m.waitingLocks.length > 0) {
    out.push(
      section(
        'Waiting locks',
        table(
          ['pid', 'lock', 'relation', 'waiting', 'blocked by', 'statement'],
          m.waitingLocks.map((l) => [
            { text: String(l.pid), class: 'num' },
            `${l.locktype} ${l.mode}`,
            l.relation ?? '—',
            { text: `${dec(l.waitingSeconds)} s`, class: 'num' },
            l.blockedBy.join(', '),
            { text: l.query, class: 'mono query' },
          ]),
        ),
      ),
    )
  }
  if (m.notApplicable.length > 0) {
    out.push(
      section(
        'Not applicable here',
        h(
          'ul',
          { class: 'note' },
          m.notApplicable.map((s) => h('li', {}, s)),
        ),
      ),
    )
  }
  return out
}

/**
 * The report lists tables and partitions; a partitioned table gets a row of its own (parent:
 * undefined) summing its partitions, right above them.
 */
function withParents(relations) {
  const out = []
  const groups = new Map()
  const parents = new Set(relations.map((r) => r.parent).filter(Boolean))
  for (const r of relations) {
    if (!r.parent && parents.has(r.name)) continue
    if (!r.parent) {
      out.push(r)
      continue
    }
    let group = groups.get(r.parent)
    if (!group) {
      group = {
        name: r.parent,
        parent: undefined,
        tableBytes: 0,
        indexBytes: 0,
        liveTuples: 0,
        deadTuples: 0,
        children: [],
      }
      groups.set(r.parent, group)
      out.push(group)
    }
    group.tableBytes += r.tableBytes ?? 0
    group.indexBytes += r.indexBytes ?? 0
    group.liveTuples += r.liveTuples
    group.deadTuples += r.deadTuples
    group.children.push(r)
  }
  return out.flatMap((r) => (r.children ? [r, ...r.children] : [r]))
}
