// GET /: a one-page dashboard. It reads the same /v1 API as any client (with the key typed into
// it, kept in the tab's sessionStorage only), writes nothing, and builds the page with textContent
// so no stored text can run as HTML. Its inline script is allowed by hash in the CSP.
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'

const SCRIPT = `
const $ = (id) => document.getElementById(id)
const keyInput = $('key')
keyInput.value = sessionStorage.getItem('rbdb-key') || ''
function headers() {
  const key = keyInput.value.trim()
  return key ? { authorization: 'Bearer ' + key } : {}
}
async function getJson(path) {
  const res = await fetch(path, { headers: headers() })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(res.status + ' ' + ((body.error && body.error.message) || res.statusText))
  return body
}
function cell(row, text) {
  const td = document.createElement('td')
  td.textContent = text
  row.appendChild(td)
  return td
}
async function ready() {
  const res = await fetch('/readyz').catch(() => null)
  const body = res ? await res.json().catch(() => ({})) : {}
  $('ready').textContent = res && res.ok ? 'ready' : 'not ready: ' + ((body.error && body.error.message) || 'no answer')
  $('ready').className = res && res.ok ? 'ok' : 'bad'
}
async function sessions() {
  sessionStorage.setItem('rbdb-key', keyInput.value.trim())
  const table = $('sessions')
  table.replaceChildren()
  $('turns').replaceChildren()
  $('message').textContent = ''
  try {
    const page = await getJson('/v1/sessions?limit=50')
    if (page.sessions.length === 0) $('message').textContent = 'No sessions yet.'
    for (const s of page.sessions) {
      const row = document.createElement('tr')
      const link = document.createElement('a')
      link.href = '#'
      link.textContent = s.id
      link.onclick = (e) => { e.preventDefault(); turns(s.id) }
      cell(row, '').appendChild(link)
      cell(row, String(s.messageCount))
      cell(row, s.lastActive)
      table.appendChild(row)
    }
  } catch (err) {
    $('message').textContent = err.message
  }
}
async function turns(id) {
  const list = $('turns')
  list.replaceChildren()
  try {
    const page = await getJson('/v1/sessions/' + encodeURIComponent(id) + '/turns?limit=20')
    for (const t of page.turns) {
      const li = document.createElement('li')
      li.textContent = t.createdAt + ' [' + t.robotPersonality + '] user: ' + t.userMessage + ' / robot: ' + (t.robotResponse === null ? '(awaiting answer)' : t.robotResponse)
      list.appendChild(li)
    }
  } catch (err) {
    $('message').textContent = err.message
  }
}
$('keyform').onsubmit = (e) => { e.preventDefault(); sessions() }
ready()
sessions()
`

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222 }
table { border-collapse: collapse; margin: 1rem 0 } td, th { padding: .25rem .75rem; border-bottom: 1px solid #ddd; text-align: left }
.ok { color: #176117 } .bad { color: #a11 } #message { color: #a11 } li { margin: .25rem 0; white-space: pre-wrap }
`

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`

function page(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Robot Brain DB</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>Robot Brain DB <small>${version}</small></h1>
<p>Database: <span id="ready">checking…</span> · <a href="/docs">API docs</a> · <a href="/openapi.json">OpenAPI</a> · <a href="/metrics">metrics</a></p>
<form id="keyform"><label>API key (if the server has keys): <input id="key" type="password" size="50" autocomplete="off"></label>
<button type="submit">Load sessions</button></form>
<p id="message"></p>
<table><thead><tr><th>session</th><th>turns</th><th>last active</th></tr></thead><tbody id="sessions"></tbody></table>
<ol id="turns"></ol>
<script>${SCRIPT}</script>
</body></html>`
}

export function dashboardRoute(app: FastifyInstance, version: string): void {
  const html = page(version.replace(/[^0-9A-Za-z.+-]/g, ''))
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(SCRIPT)}`,
    `style-src ${sha256(STYLE)}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ')
  app.get(
    '/',
    { schema: { summary: 'Dashboard (HTML)', tags: ['operations'], produces: ['text/html'] } },
    async (_request, reply) =>
      reply.header('content-security-policy', csp).type('text/html; charset=utf-8').send(html),
  )
}
