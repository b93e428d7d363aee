// The dashboard's shell: hash routes (#/overview, #/sessions, #/sessions/<id>, #/search, #/analytics),
// the API key prompt, and one page at a time in <main>.
import { ApiError, apiGet, key, onNeedKey } from './api.js'
import { h, notice } from './dom.js'
import { route } from './router.js'

const PAGES = {
  overview: () => import('./overview.js'),
  sessions: () => import('./sessions.js'),
  search: () => import('./search.js'),
  analytics: () => import('./analytics.js'),
}

const main = document.getElementById('page')
const form = document.getElementById('keyform')
const input = document.getElementById('key')
const prompt = document.getElementById('keyprompt')
const forget = document.getElementById('forget')

/** The page's clean-up (timers, chart resize listeners), run before the next page renders. */
let leave = () => {}
let rendering = 0

async function render() {
  const ticket = ++rendering
  leave()
  leave = () => {}
  const current = route()
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.page === current.page)
    if (link.dataset.page === current.page) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'))
  try {
    const page = await PAGES[current.page]()
    if (ticket !== rendering) return
    const container = h('div', { class: `page page-${current.page}` })
    main.replaceChildren(container)
    const cleanup = await page.render(container, current)
    if (ticket === rendering && typeof cleanup === 'function') leave = cleanup
    else if (typeof cleanup === 'function') cleanup()
  } catch (err) {
    if (ticket !== rendering) return
    // A refused key already opened the prompt; say so in the page too.
    main.replaceChildren(notice('error', err instanceof ApiError ? err.message : `The page failed: ${err}`))
  }
}

function askForKey(message) {
  form.hidden = false
  prompt.textContent = key.get()
    ? `The key was refused (${message}). Type another; it stays in this browser tab only.`
    : 'This server needs an API key. It stays in this browser tab only (sessionStorage).'
  input.focus()
}

onNeedKey(askForKey)

form.addEventListener('submit', (event) => {
  event.preventDefault()
  key.set(input.value.trim())
  input.value = ''
  form.hidden = true
  forget.hidden = !key.get()
  render()
})

forget.addEventListener('click', () => {
  key.clear()
  forget.hidden = true
  render()
})

forget.hidden = !key.get()
window.addEventListener('hashchange', render)

// Whether this server needs a key, asked once up front so the prompt shows on every page, the
// overview included (its operator figures do not use the key).
apiGet('/sessions', { limit: 1 }).catch(() => {})
render()
