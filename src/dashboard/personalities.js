// A <datalist> of the tenant's robot personalities (the last year's, from the analytics rollups), so
// filter fields can suggest them. Filled when the answer comes; empty if it fails.
import { apiGet } from './api.js'
import { h } from './dom.js'

const YEAR_MS = 365 * 86_400_000

export function personalityList(id = 'personalities') {
  const list = h('datalist', { id })
  apiGet('/analytics/personalities', { from: new Date(Date.now() - YEAR_MS).toISOString() })
    .then((answer) =>
      list.replaceChildren(...answer.personalities.map((p) => h('option', { value: p.robotPersonality }))),
    )
    .catch(() => {})
  return list
}
