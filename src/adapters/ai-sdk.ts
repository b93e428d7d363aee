// robot-brain-db/ai-sdk: chat persistence for the Vercel AI SDK (`ai` 5 and later), the loadChat /
// saveChat pattern of its documentation, backed by the store: a chat is a session, and each user
// message with the assistant message answering it is a turn.
//
// The text parts of a message are the turn's text (userMessage / robotResponse: what search, context
// and analytics read); everything else of the message (id, role, metadata, the other parts) is kept in
// the turn's metadata under "aiSdk", so loadChat returns exactly the list saveChat was given.
// saveChat takes the whole list each time and writes only what changed: turns get ids derived from
// the chat and message ids, a list saved twice stores nothing new, and turns no longer in the list
// (a regenerated answer, an edited message) are replaced.
import { createHash } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { UIMessage } from 'ai'
import { NotFoundError, ValidationError } from '../errors.js'
import { LIMITS } from '../store/limits.js'
import type { Store } from '../store/store.js'
import type { Turn } from '../store/types.js'
import * as v from '../store/validate.js'
import { adapterEntry, allTurns, DEFAULT_PERSONALITY, forMessage } from './turns.js'

export interface ChatPersistenceOptions {
  /** The personality new turns are recorded under. Default 'assistant'. */
  robotPersonality?: string
  /** The user new chats belong to, set when a chat's first turn is recorded. */
  userId?: string
}

export interface ChatPersistence<M extends UIMessage = UIMessage> {
  /** The chat's messages, oldest first; [] for a chat with none. */
  loadChat(chatId: string): Promise<M[]>
  /** Stores the chat's whole message list (as onFinish hands it over); idempotent. */
  saveChat(input: { chatId: string; messages: M[] }): Promise<void>
  /** Deletes the chat and all its messages (nothing happens for an unknown chat). */
  deleteChat(chatId: string): Promise<void>
}

/** One message as kept in turn metadata: the text of its text parts left out (it is the turn's text). */
interface StoredSide {
  id: string
  role: UIMessage['role']
  metadata?: unknown
  parts: Array<Record<string, unknown>>
  /** Lengths of the text parts' texts, in order; the turn's text joins them with TEXT_SEPARATOR. */
  textLengths: number[]
}

interface Entry {
  user: StoredSide | null
  assistant?: StoredSide
}

interface Pair {
  user: UIMessage | null
  assistant: UIMessage | null
  /** Index of the pair's first message in the caller's list (for error messages). */
  index: number
}

const KEY = 'aiSdk'
const TEXT_SEPARATOR = '\n\n'

/**
 * Chat persistence for the AI SDK over `store` (or a tenant's view: store.tenant('acme')):
 * `const { loadChat, saveChat } = chatPersistence(store)`.
 */
export function chatPersistence<M extends UIMessage = UIMessage>(
  store: Store,
  options: ChatPersistenceOptions = {},
): ChatPersistence<M> {
  if (!store || typeof store.history !== 'function')
    throw new ValidationError('store', 'must be a Store from openStore()')
  const robotPersonality = options.robotPersonality ?? DEFAULT_PERSONALITY

  async function loadChat(chatId: string): Promise<M[]> {
    const id = v.identifier('chatId', chatId, LIMITS.sessionIdMax)
    const out: UIMessage[] = []
    for (const turn of await allTurns(store, id)) {
      const { user, assistant } = fromTurn(turn)
      if (user) out.push(user)
      if (assistant) out.push(assistant)
    }
    return out as M[]
  }

  async function saveChat(input: { chatId: string; messages: M[] }): Promise<void> {
    const chatId = v.identifier('chatId', input?.chatId, LIMITS.sessionIdMax)
    const wanted = pairs(checkMessages(input.messages))
    const stored = await allTurns(store, chatId)
    // Keep the stored turns that still match the list, in order; complete the one awaiting its answer.
    let k = 0
    for (; k < wanted.length && k < stored.length; k++) {
      const want = wanted[k] as Pair
      const turn = stored[k] as Turn
      const have = fromTurn(turn)
      if (!isDeepStrictEqual(have.user, want.user)) break
      if (isDeepStrictEqual(have.assistant, want.assistant)) continue
      if (turn.robotResponse !== null || !want.assistant) break
      // The turn awaiting its answer gets it (the list was saved before, while the answer was streaming).
      const answer = toSide(want.assistant)
      const entry: Entry = { user: have.user && toSide(have.user).side, assistant: answer.side }
      await forMessage(`messages[${want.index + 1}]`, () =>
        store.completeTurn(chatId, turn.id, {
          robotResponse: answer.text,
          metadata: { [KEY]: entry },
        }),
      )
    }
    // Turns no longer in the list (a regenerated answer, an edited or removed message) go, newest first.
    for (const turn of stored.slice(k).reverse()) await store.deleteTurn(chatId, turn.id)
    // The rest of the list, in order: explicit times keep it so (ids derived from message ids carry none).
    let at = Math.max(Date.now(), k > 0 ? Date.parse((stored[k - 1] as Turn).createdAt) + 1 : 0)
    for (const pair of wanted.slice(k)) {
      const u = pair.user && toSide(pair.user)
      const a = pair.assistant && toSide(pair.assistant)
      const entry: Entry = { user: u?.side ?? null, ...(a ? { assistant: a.side } : {}) }
      const first = (pair.user ?? pair.assistant) as UIMessage
      const createdAt = new Date(at++)
      await forMessage(`messages[${pair.index}]`, () =>
        store.recordTurn({
          sessionId: chatId,
          robotPersonality,
          userMessage: u?.text ?? '',
          robotResponse: a ? a.text : null,
          metadata: { [KEY]: entry },
          id: turnId(chatId, first.id),
          createdAt,
          ...(options.userId ? { userId: options.userId } : {}),
        }),
      )
    }
  }

  async function deleteChat(chatId: string): Promise<void> {
    const id = v.identifier('chatId', chatId, LIMITS.sessionIdMax)
    try {
      await store.deleteSession(id)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    }
  }

  return { loadChat, saveChat, deleteChat }
}

/** Checks the shape saveChat relies on and returns the list as JSON would carry it (no undefined). */
function checkMessages(messages: unknown): UIMessage[] {
  if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array of UIMessage')
  return messages.map((m, i) => {
    const field = `messages[${i}]`
    if (m === null || typeof m !== 'object') throw new ValidationError(field, 'must be a UIMessage object')
    const { id, role, parts } = m as Partial<UIMessage>
    if (typeof id !== 'string' || id === '')
      throw new ValidationError(`${field}.id`, 'must be a non-empty string')
    if (role !== 'user' && role !== 'assistant' && role !== 'system')
      throw new ValidationError(`${field}.role`, 'must be "user", "assistant" or "system"')
    if (!Array.isArray(parts)) throw new ValidationError(`${field}.parts`, 'must be an array')
    return JSON.parse(JSON.stringify(m)) as UIMessage
  })
}

/** A message that is not the assistant's starts a turn; the assistant message after it answers it. */
function pairs(messages: UIMessage[]): Pair[] {
  const out: Pair[] = []
  let open: Pair | null = null
  messages.forEach((m, index) => {
    if (m.role === 'assistant') {
      if (open) open.assistant = m
      else out.push({ user: null, assistant: m, index })
      open = null
    } else {
      open = { user: m, assistant: null, index }
      out.push(open)
    }
  })
  return out
}

/** A stable turn id for a chat's message: a name-based UUID (version 8) of both ids. */
function turnId(chatId: string, messageId: string): string {
  const h = createHash('sha256').update(`robot-brain-db/ai-sdk\u0000${chatId}\u0000${messageId}`).digest()
  h[6] = ((h[6] as number) & 0x0f) | 0x80
  h[8] = ((h[8] as number) & 0x3f) | 0x80
  const hex = h.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function isTextPart(part: unknown): part is { type: 'text'; text: string } {
  return (part as { type?: unknown }).type === 'text' && typeof (part as { text?: unknown }).text === 'string'
}

/** A message's text (its text parts, joined) and the rest of it. */
function toSide(message: UIMessage): { text: string; side: StoredSide } {
  const texts: string[] = []
  const parts = message.parts.map((part) => {
    if (!isTextPart(part)) return part as Record<string, unknown>
    texts.push(part.text)
    const { text: _text, ...rest } = part
    return rest
  })
  const side: StoredSide = {
    id: message.id,
    role: message.role,
    parts,
    textLengths: texts.map((t) => t.length),
  }
  if (message.metadata !== undefined) side.metadata = message.metadata
  return { text: texts.join(TEXT_SEPARATOR), side }
}

function fromSide(side: StoredSide, text: string): UIMessage {
  let at = 0
  let n = 0
  const parts = side.parts.map((part) => {
    if (part.type !== 'text' || 'text' in part) return part
    const length = side.textLengths[n++] ?? 0
    const piece = text.slice(at, at + length)
    at += length + TEXT_SEPARATOR.length
    return { ...part, text: piece }
  })
  const message: UIMessage = { id: side.id, role: side.role, parts: parts as UIMessage['parts'] }
  if (side.metadata !== undefined) message.metadata = side.metadata
  return message
}

/** The messages of one turn as the AI SDK knows them. */
function fromTurn(turn: Turn): { user: UIMessage | null; assistant: UIMessage | null } {
  const entry = adapterEntry(turn, KEY) as Entry | undefined
  // Sides written by other means (the HTTP API, recordTurn) read as plain text, ids from the turn's.
  const plain = (role: 'user' | 'assistant', text: string): UIMessage => ({
    id: `${turn.id}-${role}`,
    role,
    parts: [{ type: 'text', text }],
  })
  const user = entry
    ? entry.user && fromSide(entry.user, turn.userMessage)
    : turn.userMessage === ''
      ? null
      : plain('user', turn.userMessage)
  const assistant =
    turn.robotResponse === null
      ? null
      : entry?.assistant
        ? fromSide(entry.assistant, turn.robotResponse)
        : plain('assistant', turn.robotResponse)
  return { user, assistant }
}
