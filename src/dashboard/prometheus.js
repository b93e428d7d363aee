// Reading /metrics (Prometheus text format) for the overview: request counts and latency per route,
// from http_requests_total and the http_request_duration_seconds histogram.

/** Samples of the text format: [{ name, labels: {..}, value }]; comments and blank lines skipped. */
export function parseMetrics(text) {
  const samples = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (!match) continue
    const labels = {}
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
    }
    samples.push({ name: match[1], labels, value: Number(match[4]) })
  }
  return samples
}

/** Only the API's own routes count as traffic: not the dashboard, its polling or the probes. */
const isApiRoute = (route) => route.startsWith('/v1/')

/**
 * Per API route: requests, errors (5xx), seconds summed, and the cumulative latency buckets; and the
 * same over all API routes (route '*').
 */
export function requestStats(samples) {
  const routes = new Map()
  const entry = (route) => {
    let e = routes.get(route)
    if (!e) {
      e = { route, count: 0, errors: 0, sum: 0, buckets: new Map() }
      routes.set(route, e)
    }
    return e
  }
  for (const s of samples) {
    const route = s.labels.route
    if (!route || !isApiRoute(route)) continue
    const key = `${s.labels.method} ${route}`
    for (const e of [entry(key), entry('*')]) {
      if (s.name === 'http_requests_total') {
        e.count += s.value
        if (String(s.labels.status).startsWith('5')) e.errors += s.value
      } else if (s.name === 'http_request_duration_seconds_sum') {
        e.sum += s.value
      } else if (s.name === 'http_request_duration_seconds_bucket') {
        const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le)
        e.buckets.set(le, (e.buckets.get(le) ?? 0) + s.value)
      }
    }
  }
  return routes
}

/**
 * The q-quantile (0..1) of a cumulative histogram, in seconds, interpolated within its bucket as
 * Prometheus' histogram_quantile does; null without observations.
 */
export function quantile(buckets, q) {
  const bounds = [...buckets.keys()].sort((a, b) => a - b)
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0
  if (total === 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (const upper of bounds) {
    const count = buckets.get(upper)
    if (count >= rank) {
      if (upper === Number.POSITIVE_INFINITY) return lower
      const inBucket = count - below
      return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket)
    }
    lower = upper
    below = count
  }
  return lower
}

/** The difference of two requestStats maps (now - before), for figures over the last interval. */
export function difference(now, before) {
  const out = new Map()
  for (const [key, e] of now) {
    const b = before.get(key)
    const buckets = new Map()
    for (const [le, count] of e.buckets) buckets.set(le, count - (b?.buckets.get(le) ?? 0))
    out.set(key, {
      route: e.route,
      count: e.count - (b?.count ?? 0),
      errors: e.errors - (b?.errors ?? 0),
      sum: e.sum - (b?.sum ?? 0),
      buckets,
    })
  }
  return out
}
