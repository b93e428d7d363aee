// Search: full text, semantic or hybrid over the tenant's turns, with the API's filters; each result
// shows its snippet with the matches highlighted, and links to its session's transcript.
import { apiGet } from './api.js'
import { h, notice, section, snippet } from './dom.js'
import { dec, when } from './format.js'
import { personalityList } from './personalities.js'
import { go } from './router.js'

const MODES = [
  ['', 'best available'],
  ['fulltext', 'full text'],
  ['semantic', 'semantic'],
  ['hybrid', 'hybrid'],
]
const FIELDS = ['q', 'mode', 'user', 'personality', 'session', 'from', 'to', 'limit']

/** A date input's day as the start of that day in UTC (ISO 8601), or undefined. */
const day = (value) => (value ? `${value}T00:00:00Z` : undefined)

export async function render(container, { params }) {
  const input = (name, attrs = {}) =>
    h('input', { name, id: `search-${name}`, value: params.get(name) ?? '', ...attrs })
  const fields = {
    q: input('q', {
      type: 'search',
      required: true,
      placeholder: 'words, "a phrase", -word',
      spellcheck: 'false',
    }),
    mode: h(
      'select',
      { name: 'mode', id: 'search-mode' },
      MODES.map(([value, label]) =>
        h('option', { value, selected: (params.get('mode') ?? '') === value }, label),
      ),
    ),
    user: input('user', { placeholder: 'any user', spellcheck: 'false' }),
    personality: input('personality', {
      placeholder: 'any personality',
      list: 'personalities',
      spellcheck: 'false',
    }),
    session: input('session', { placeholder: 'any session', spellcheck: 'false' }),
    from: input('from', { type: 'date' }),
    to: input('to', { type: 'date' }),
    limit: input('limit', { type: 'number', min: 1, max: 100, placeholder: '20' }),
  }
  const form = h(
    'form',
    {
      class: 'filters search-form',
      onsubmit: (event) => {
        event.preventDefault()
        go('search', [], Object.fromEntries(FIELDS.map((name) => [name, fields[name].value.trim()])))
      },
    },
    h('label', { class: 'wide' }, 'Find ', fields.q),
    h('label', {}, 'Mode ', fields.mode),
    h('label', {}, 'User ', fields.user),
    h('label', {}, 'Personality ', fields.personality),
    h('label', {}, 'Session ', fields.session),
    h('label', {}, 'From ', fields.from),
    h('label', {}, 'To (exclusive) ', fields.to),
    h('label', {}, 'Results ', fields.limit),
    h('button', { type: 'submit' }, 'Search'),
    personalityList(),
  )
  container.replaceChildren(form)
  const q = params.get('q')
  if (!q) {
    container.append(
      notice(
        'info',
        'Full text takes web-search syntax ("a phrase", -word, or); semantic finds turns by meaning; hybrid fuses both.',
      ),
    )
    return
  }
  const answer = await apiGet('/search', {
    q,
    mode: params.get('mode') || undefined,
    userId: params.get('user') || undefined,
    robotPersonality: params.get('personality') || undefined,
    sessionId: params.get('session') || undefined,
    from: day(params.get('from')),
    to: day(params.get('to')),
    limit: params.get('limit') || undefined,
  })
  container.append(
    section(
      `${answer.results.length} result${answer.results.length === 1 ? '' : 's'} (${answer.mode})`,
      answer.results.length === 0
        ? notice('info', 'Nothing matches. Try fewer words, another mode, or wider filters.')
        : h('ol', { class: 'results', id: 'results' }, answer.results.map(result)),
    ),
  )
}

function result(r) {
  const t = r.turn
  const ranks = [
    r.ranks.fulltext !== null ? `full text #${r.ranks.fulltext}` : null,
    r.ranks.semantic !== null ? `semantic #${r.ranks.semantic}` : null,
  ].filter(Boolean)
  return h(
    'li',
    { class: 'result', 'data-turn': t.id },
    h('p', { class: 'result-snippet' }, snippet(r.snippet)),
    h(
      'p',
      { class: 'result-meta' },
      h('a', { href: `#/sessions/${encodeURIComponent(t.sessionId)}`, class: 'mono' }, t.sessionId),
      ` · ${t.robotPersonality} · ${when(t.createdAt)} · score ${dec(r.score)}${ranks.length ? ` · ${ranks.join(', ')}` : ''}`,
    ),
    h(
      'details',
      {},
      h('summary', {}, 'Whole turn'),
      h('p', { class: 'msg-inline' }, h('strong', {}, 'User: '), t.userMessage),
      h('p', { class: 'msg-inline' }, h('strong', {}, 'Robot: '), t.robotResponse ?? 'awaiting an answer'),
    ),
  )
}
