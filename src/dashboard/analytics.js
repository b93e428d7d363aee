// Analytics: turns per personality over time, and per robot the interactions' count, success rate and
// duration percentiles (p50, p95, p99), over a chosen range, from /v1/analytics/*.
import { apiGet } from './api.js'
import { bars, chart, line } from './charts.js'
import { h, notice, section, table } from './dom.js'
import { ms, num, pct } from './format.js'
import { go } from './router.js'

const DAY_MS = 86_400_000
/** Range choices: days back from now, and the bucket that keeps the chart readable. */
const RANGES = {
  1: { label: 'last 24 hours', bucket: 'hour' },
  7: { label: 'last 7 days', bucket: 'day' },
  30: { label: 'last 30 days', bucket: 'day' },
  90: { label: 'last 90 days', bucket: 'week' },
  365: { label: 'last year', bucket: 'month' },
}
const PERCENTILES = ['p50', 'p95', 'p99']

export async function render(container, { params }) {
  const days = RANGES[params.get('days')] ? params.get('days') : '30'
  const { bucket } = RANGES[days]
  const select = h(
    'select',
    { name: 'days', id: 'analytics-days', onchange: () => go('analytics', [], { days: select.value }) },
    Object.entries(RANGES).map(([value, r]) => h('option', { value, selected: value === days }, r.label)),
  )
  container.replaceChildren(
    h(
      'form',
      { class: 'filters' },
      h('label', {}, 'Range ', select),
      h('span', { class: 'note' }, `per ${bucket}, UTC`),
    ),
  )

  // The range ends at the next whole hour, so the current bucket is complete in the answer.
  const to = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000)
  const from = new Date(to.getTime() - Number(days) * DAY_MS)
  const range = { from: from.toISOString(), to: to.toISOString(), bucket }
  const [personalities, interactions] = await Promise.all([
    apiGet('/analytics/personalities', range),
    apiGet('/analytics/interactions', { ...range, groupBy: 'robotId' }),
  ])
  const cleanups = []
  container.append(personalitySection(personalities, cleanups), interactionSection(interactions, cleanups))
  return () => {
    for (const destroy of cleanups) destroy()
  }
}

/** Every bucket start of the answers' series, oldest first, in seconds (uPlot's time unit). */
function timeline(groups) {
  const starts = new Set()
  for (const g of groups) for (const b of g.buckets) starts.add(Date.parse(b.start) / 1000)
  return [...starts].sort((a, b) => a - b)
}

/** One series per group over the timeline; a bucket a group lacks is `empty` (0 for counts). */
function aligned(groups, xs, value, empty) {
  return groups.map((g) => {
    const byStart = new Map(g.buckets.map((b) => [Date.parse(b.start) / 1000, value(b)]))
    return xs.map((x) => (byStart.has(x) ? byStart.get(x) : empty))
  })
}

function chartBox(id, title, draw, cleanups) {
  const box = h('div', { class: 'chart', id })
  const wrap = h('figure', {}, h('figcaption', {}, title), box)
  // Drawn once the box is in the page and has its width.
  requestAnimationFrame(() => {
    if (box.isConnected) cleanups.push(draw(box))
  })
  return wrap
}

function personalitySection(answer, cleanups) {
  const groups = answer.personalities
  if (groups.length === 0) return section('Personalities', notice('info', 'No turns in this range.'))
  const xs = timeline(groups)
  const series = aligned(groups, xs, (b) => b.turns, 0)
  return section(
    'Personalities',
    chartBox(
      'chart-personalities',
      `Turns per ${answer.bucket}, by personality`,
      (box) =>
        chart(
          box,
          {
            series: [{}, ...groups.map((g, i) => line(g.robotPersonality, i))],
            axes: [{}, { label: 'turns' }],
          },
          [xs, ...series],
        ),
      cleanups,
    ),
    table(
      ['personality', 'turns', 'sessions', 'avg user message', 'avg answer'],
      groups.map((g) => [
        g.robotPersonality,
        { text: num(g.turns), class: 'num' },
        { text: num(g.sessions), class: 'num' },
        {
          text: g.avgUserMessageLength === null ? '—' : `${num(g.avgUserMessageLength)} chars`,
          class: 'num',
        },
        { text: g.avgResponseLength === null ? '—' : `${num(g.avgResponseLength)} chars`, class: 'num' },
      ]),
    ),
  )
}

function interactionSection(answer, cleanups) {
  const groups = answer.groups
  if (groups.length === 0)
    return section('Robot interactions', notice('info', 'No interaction events in this range.'))
  const xs = timeline(groups)
  const counts = aligned(groups, xs, (b) => b.count, 0)
  const rates = aligned(groups, xs, (b) => (b.successRate === null ? null : b.successRate * 100), null)
  return section(
    'Robot interactions',
    h(
      'div',
      { class: 'chart-grid' },
      chartBox(
        'chart-interactions',
        `Interactions per ${answer.bucket}, by robot`,
        (box) =>
          chart(
            box,
            { series: [{}, ...groups.map((g, i) => line(g.key, i))], axes: [{}, { label: 'events' }] },
            [xs, ...counts],
          ),
        cleanups,
      ),
      chartBox(
        'chart-success',
        `Success rate per ${answer.bucket}, by robot (%)`,
        (box) =>
          chart(
            box,
            {
              series: [{}, ...groups.map((g, i) => line(g.key, i, { spanGaps: true }))],
              scales: { y: { range: [0, 100] } },
              axes: [{}, { label: '%' }],
            },
            [xs, ...rates],
          ),
        cleanups,
      ),
      chartBox(
        'chart-durations',
        'Duration percentiles by robot (ms)',
        (box) => durationChart(box, groups),
        cleanups,
      ),
    ),
    table(
      ['robot', 'interactions', 'success rate', 'p50', 'p95', 'p99', 'max'],
      groups.map((g) => [
        g.key,
        { text: num(g.count), class: 'num' },
        {
          text: pct(g.successRate),
          class: `num${g.successRate !== null && g.successRate < 0.9 ? ' bad' : ''}`,
        },
        { text: ms(g.durationMs.p50), class: 'num' },
        { text: ms(g.durationMs.p95), class: 'num' },
        { text: ms(g.durationMs.p99), class: 'num' },
        { text: ms(g.durationMs.max), class: 'num' },
      ]),
      { class: 'robots' },
    ),
  )
}

/**
 * Grouped bars: robot i's p50, p95 and p99 stand at x = 4i, 4i+1, 4i+2 (a gap at 4i+3), one series
 * per percentile holding values only at its own positions; the axis names each robot under its group.
 */
function durationChart(box, groups) {
  const slots = groups.length * 4
  const xs = Array.from({ length: slots }, (_, x) => x)
  const series = PERCENTILES.map((p, k) =>
    xs.map((x) => (x % 4 === k ? (groups[Math.floor(x / 4)].durationMs[p] ?? null) : null)),
  )
  return chart(
    box,
    {
      scales: { x: { time: false, range: [-1, slots - 1] } },
      series: [
        { label: 'robot', value: (_u, x) => (x === null ? '' : (groups[Math.floor(x / 4)]?.key ?? '')) },
        ...PERCENTILES.map((p, k) => bars(p, k)),
      ],
      axes: [
        {
          splits: () => groups.map((_, i) => i * 4 + 1),
          values: (_u, splits) => splits.map((x) => groups[Math.floor(x / 4)]?.key ?? ''),
        },
        { label: 'ms', size: 70 },
      ],
      legend: { live: false },
    },
    [xs, ...series],
  )
}
