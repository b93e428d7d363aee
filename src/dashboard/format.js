// Number, size, time and duration formats for the dashboard (en-US, UTC shown as local time).

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })

export const num = (n) => (n === null || n === undefined ? '—' : integer.format(n))
export const dec = (n) => (n === null || n === undefined ? '—' : decimal.format(n))
export const pct = (ratio, digits = 1) =>
  ratio === null || ratio === undefined || Number.isNaN(ratio) ? '—' : `${(ratio * 100).toFixed(digits)} %`

export function bytes(n) {
  if (n === null || n === undefined) return '—'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

export function ms(n) {
  if (n === null || n === undefined) return '—'
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`
  return `${n >= 10 ? n.toFixed(0) : n.toFixed(2)} ms`
}

export function when(iso) {
  if (!iso) return 'never'
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString('en-US', { hour12: false })
}

/** "3 h ago" style, for last-vacuum columns. */
export function ago(iso) {
  if (!iso) return 'never'
  const s = (Date.now() - new Date(iso).getTime()) / 1000
  if (s < 90) return `${Math.max(0, Math.round(s))} s ago`
  if (s < 5400) return `${Math.round(s / 60)} min ago`
  if (s < 129600) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}
