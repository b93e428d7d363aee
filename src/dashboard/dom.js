// Building the page: elements from tag, attributes and children. Text always goes in as text nodes
// (never innerHTML), so stored text shows as written and can never run as HTML.

/**
 * h('td', { class: 'num' }, '42'): attributes (class, href, ...; on* as listeners) and children
 * (strings become text nodes; null and false are skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** A table: headers, then rows of cells (strings, nodes, or { text, class }). */
export function table(headers, rows, options = {}) {
  const head = h(
    'tr',
    {},
    headers.map((text) => h('th', { scope: 'col' }, text)),
  )
  const body = rows.map((cells) =>
    h(
      'tr',
      {},
      cells.map((cell) =>
        cell && typeof cell === 'object' && !(cell instanceof Node)
          ? h('td', { class: cell.class }, cell.text)
          : h('td', {}, cell),
      ),
    ),
  )
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: options.class }, h('thead', {}, head), h('tbody', {}, body)),
  )
}

/** A labelled figure for the overview's cards. */
export function card(label, value, note, state) {
  return h(
    'div',
    { class: `card${state ? ` ${state}` : ''}` },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value' }, value),
    note ? h('div', { class: 'card-note' }, note) : null,
  )
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', {}, h('h2', {}, title), ...children)
}

/** A message box: kind is 'error', 'warn' or 'info'. */
export function notice(kind, ...text) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null }, ...text)
}

/**
 * A search snippet as text with its matches in <mark>: the server marks matches **like this**; the
 * text is split on the markers and each piece goes in as text.
 */
export function snippet(text) {
  const parts = String(text).split('**')
  // An odd number of markers leaves the last one unmatched: show it as written.
  if (parts.length % 2 === 0) return h('span', { class: 'snippet' }, String(text))
  return h(
    'span',
    { class: 'snippet' },
    parts.map((part, i) => (i % 2 === 1 ? h('mark', {}, part) : part)),
  )
}
