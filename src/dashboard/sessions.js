// Session explorer: sessions most recently active first, filtered by user and personality, paged
// with the API's cursor; a session opens as a chat transcript (#/sessions/<id>), oldest turn first.
import { apiGet } from './api.js'
import { h, notice, section, table } from './dom.js'
import { num, when } from './format.js'
import { personalityList } from './personalities.js'
import { go } from './router.js'

const PAGE_SIZE = 25
const TURNS_PAGE = 50

export async function render(container, { rest, params }) {
  if (rest[0]) return transcript(container, rest[0])
  return list(container, params)
}

async function list(container, params) {
  const user = params.get('user') ?? ''
  const personality = params.get('personality') ?? ''
  const cursor = params.get('cursor') ?? ''
  const filtered = { user, personality }
  const userInput = h('input', { name: 'user', value: user, placeholder: 'any user', spellcheck: 'false' })
  const personalityInput = h('input', {
    name: 'personality',
    value: personality,
    placeholder: 'any personality',
    list: 'personalities',
    spellcheck: 'false',
  })
  const filters = h(
    'form',
    {
      class: 'filters',
      onsubmit: (event) => {
        event.preventDefault()
        go('sessions', [], { user: userInput.value.trim(), personality: personalityInput.value.trim() })
      },
    },
    h('label', {}, 'User ', userInput),
    h('label', {}, 'Personality ', personalityInput),
    h('button', { type: 'submit' }, 'Filter'),
    user || personality ? h('a', { href: '#/sessions' }, 'Clear') : null,
    personalityList(),
  )
  container.replaceChildren(filters)
  const page = await apiGet('/sessions', {
    limit: PAGE_SIZE,
    cursor,
    userId: user,
    robotPersonality: personality,
  })
  const rows = page.sessions.map((s) => [
    h('a', { href: `#/sessions/${encodeURIComponent(s.id)}`, class: 'mono session-link' }, s.id),
    s.userId ?? '—',
    { text: num(s.messageCount), class: 'num' },
    { text: when(s.lastActive), class: 'num' },
    { text: when(s.createdAt), class: 'num' },
  ])
  container.append(
    section(
      ['Sessions', user ? `of ${user}` : '', personality ? `with ${personality}` : '']
        .filter(Boolean)
        .join(' '),
      rows.length === 0
        ? notice('info', cursor ? 'No more sessions.' : 'No sessions yet.')
        : table(['session', 'user', 'turns', 'last active', 'created'], rows, { class: 'sessions' }),
      h(
        'div',
        { class: 'pager' },
        cursor
          ? h('a', { href: `#/sessions${user ? `?user=${encodeURIComponent(user)}` : ''}` }, '← First page')
          : null,
        page.nextCursor
          ? h(
              'button',
              {
                type: 'button',
                id: 'next-page',
                onclick: () => go('sessions', [], { ...filtered, cursor: page.nextCursor }),
              },
              'Next page →',
            )
          : null,
      ),
    ),
  )
}

async function transcript(container, sessionId) {
  const session = await apiGet(`/sessions/${encodeURIComponent(sessionId)}`)
  const chat = h('ol', { class: 'chat', id: 'transcript' })
  const more = h('div', { class: 'pager' })
  container.replaceChildren(
    h('p', {}, h('a', { href: '#/sessions' }, '← All sessions')),
    section(
      `Session ${session.id}`,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'User'),
        h('dd', {}, session.userId ?? '—'),
        h('dt', {}, 'Turns'),
        h('dd', {}, num(session.messageCount)),
        h('dt', {}, 'Started'),
        h('dd', {}, when(session.createdAt)),
        h('dt', {}, 'Last active'),
        h('dd', {}, when(session.lastActive)),
      ),
      Object.keys(session.userMetadata).length > 0
        ? h(
            'details',
            {},
            h('summary', {}, 'User metadata'),
            h('pre', {}, JSON.stringify(session.userMetadata, null, 2)),
          )
        : null,
      chat,
      more,
    ),
  )
  const load = async (after) => {
    const page = await apiGet(`/sessions/${encodeURIComponent(sessionId)}/turns`, {
      order: 'asc',
      limit: TURNS_PAGE,
      after,
    })
    for (const turn of page.turns) chat.append(...bubbles(turn))
    // replaceChildren would write a null as the text "null": pass nothing instead.
    more.replaceChildren(
      ...(page.nextCursor
        ? [h('button', { type: 'button', onclick: () => load(page.nextCursor) }, 'Later turns →')]
        : []),
    )
    if (page.turns.length === 0 && !after)
      chat.append(h('li', { class: 'note' }, 'This session has no turns.'))
  }
  await load(undefined)
}

/** One turn as two chat bubbles: the user's message, then the robot's answer (or that it awaits one). */
function bubbles(turn) {
  const time = h('time', { datetime: turn.createdAt }, when(turn.createdAt))
  return [
    h(
      'li',
      { class: 'msg user', 'data-turn': turn.id },
      h('div', { class: 'who' }, 'User · ', time),
      h('div', { class: 'text' }, turn.userMessage),
    ),
    h(
      'li',
      { class: `msg robot${turn.robotResponse === null ? ' pending' : ''}`, 'data-turn': turn.id },
      h('div', { class: 'who' }, `Robot (${turn.robotPersonality}) · `, time.cloneNode(true)),
      h('div', { class: 'text' }, turn.robotResponse ?? 'awaiting an answer'),
    ),
  ]
}
