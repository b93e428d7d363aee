// Hash routes: #/<page>/<part>?<params>, e.g. #/sessions/abc?user=x. The hash keeps a page's state
// (filters, query, cursor), so a reload or a shared link shows the same thing.

export const PAGE_NAMES = ['overview', 'sessions', 'search', 'analytics']

/** "#/sessions/abc?user=x" → { page: 'sessions', rest: ['abc'], params: URLSearchParams } */
export function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?')
  const [page, ...rest] = (path ?? '').split('/').map(decodeURIComponent)
  return {
    page: PAGE_NAMES.includes(page) ? page : 'overview',
    rest,
    params: new URLSearchParams(query ?? ''),
  }
}

/** Changes the hash (so the browser's back button works); the hashchange handler renders. */
export function go(page, rest = [], params = {}) {
  const query = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value)
  const qs = query.toString()
  const path = [page, ...rest.map(encodeURIComponent)].join('/')
  location.hash = `#/${path}${qs ? `?${qs}` : ''}`
}
