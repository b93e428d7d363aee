// robot-brain-db/langchain: a LangChain.js chat message history backed by the store, in place of
// PostgresChatMessageHistory (@langchain/community) or any other BaseListChatMessageHistory.
//
// Messages map onto turns: a message that is not an AI message (human, system, tool, ...) starts a
// turn awaiting its answer, and the next AI message completes it. An AI message with no turn awaiting
// an answer gets a turn of its own with an empty user side. Each side's LangChain fields (type, id,
// name, tool calls, additional_kwargs, response_metadata; content blocks that are not plain text) are
// kept in the turn's metadata under "langchain", so getMessages() returns what was added.
import { BaseListChatMessageHistory } from '@langchain/core/chat_history'
import {
  type BaseMessage,
  mapStoredMessagesToChatMessages,
  type StoredMessage,
} from '@langchain/core/messages'
import { NotFoundError, ValidationError } from '../errors.js'
import { LIMITS } from '../store/limits.js'
import type { Store } from '../store/store.js'
import type { Turn } from '../store/types.js'
import * as v from '../store/validate.js'
import { adapterEntry, allTurns, DEFAULT_PERSONALITY, forMessage, newestTurn } from './turns.js'

export interface RobotBrainChatMessageHistoryInput {
  /** The store (or a tenant's view of it: store.tenant('acme')). */
  store: Store
  /** The conversation: the store's session id (1 to 100 characters). */
  sessionId: string
  /** The personality new turns are recorded under. Default 'assistant'. */
  robotPersonality?: string
  /** The user the session belongs to, set when its first turn is recorded. */
  userId?: string
}

/** How one message is kept in turn metadata: its stored form, content left out when it is the text column. */
type Side = { type: string; data: Record<string, unknown> } | null

interface Entry {
  user?: Side
  assistant?: Side
}

const KEY = 'langchain'

export class RobotBrainChatMessageHistory extends BaseListChatMessageHistory {
  lc_namespace = ['robot_brain_db', 'langchain', 'chat_history']

  readonly sessionId: string
  readonly robotPersonality: string
  private readonly store: Store
  private readonly userId: string | undefined

  constructor(input: RobotBrainChatMessageHistoryInput) {
    // Only the session id goes to Serializable (lc_kwargs): the store is not serializable state.
    super({ sessionId: input?.sessionId })
    if (!input || typeof input.store?.history !== 'function')
      throw new ValidationError('store', 'must be a Store from openStore()')
    this.store = input.store
    this.sessionId = v.identifier('sessionId', input.sessionId, LIMITS.sessionIdMax)
    this.robotPersonality = input.robotPersonality ?? DEFAULT_PERSONALITY
    this.userId = input.userId
  }

  /** Every message of the session, oldest first. */
  async getMessages(): Promise<BaseMessage[]> {
    const stored: StoredMessage[] = []
    for (const turn of await allTurns(this.store, this.sessionId)) stored.push(...fromTurn(turn))
    return mapStoredMessagesToChatMessages(stored)
  }

  async addMessage(message: BaseMessage): Promise<void> {
    await this.addMessages([message])
  }

  /** Adds messages in order; a message followed by its AI answer is stored as one turn in one write. */
  override async addMessages(messages: BaseMessage[]): Promise<void> {
    if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array of messages')
    // The turn awaiting an answer: unknown until an AI message needs it, then kept up to date.
    let awaiting: Turn | null | undefined
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as BaseMessage
      if (isAi(message)) {
        if (awaiting === undefined) {
          const newest = await newestTurn(this.store, this.sessionId)
          awaiting = newest && newest.robotResponse === null ? newest : null
        }
        if (awaiting) await this.answer(awaiting, message, i)
        else await this.record(null, message, i)
        awaiting = null
        continue
      }
      const next = messages[i + 1]
      if (next && isAi(next)) {
        await this.record(message, next, i)
        i++
        awaiting = null
      } else {
        awaiting = await this.record(message, null, i)
      }
    }
  }

  /** Deletes the session and all its turns. */
  override async clear(): Promise<void> {
    try {
      await this.store.deleteSession(this.sessionId)
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err
    }
  }

  /** Records a turn for messages[index] (and the answer after it, when given). */
  private record(user: BaseMessage | null, assistant: BaseMessage | null, index: number): Promise<Turn> {
    const u = user ? toSide(user) : null
    const a = assistant ? toSide(assistant) : null
    const entry: Entry = { user: u?.side ?? null, ...(a ? { assistant: a.side } : {}) }
    return forMessage(`messages[${index}]`, () =>
      this.store.recordTurn({
        sessionId: this.sessionId,
        robotPersonality: this.robotPersonality,
        userMessage: u?.text ?? '',
        robotResponse: a ? a.text : null,
        metadata: { [KEY]: entry },
        ...(this.userId ? { userId: this.userId } : {}),
      }),
    )
  }

  private async answer(turn: Turn, assistant: BaseMessage, index: number): Promise<void> {
    const a = toSide(assistant)
    const entry: Entry = { ...(adapterEntry(turn, KEY) as Entry | undefined), assistant: a.side }
    await forMessage(`messages[${index}]`, () =>
      this.store.completeTurn(this.sessionId, turn.id, {
        robotResponse: a.text,
        metadata: { [KEY]: entry },
      }),
    )
  }
}

function isAi(message: BaseMessage): boolean {
  return message.getType() === 'ai'
}

/** A message's text column and the rest of its stored form. */
function toSide(message: BaseMessage): { text: string; side: NonNullable<Side> } {
  const { type, data } = message.toDict()
  const { content, ...rest } = data as unknown as Record<string, unknown>
  if (typeof content === 'string') return { text: content, side: { type, data: rest } }
  return { text: message.text, side: { type, data: { ...rest, content } } }
}

/** The stored messages of one turn: its user side (unless empty) and its answer (when it has one). */
function fromTurn(turn: Turn): StoredMessage[] {
  const entry = adapterEntry(turn, KEY) as Entry | undefined
  const out: StoredMessage[] = []
  if (!entry) {
    // A turn recorded by other means (the HTTP API, recordTurn): plain text on both sides.
    if (turn.userMessage !== '') out.push(plain('human', turn.userMessage))
    if (turn.robotResponse !== null) out.push(plain('ai', turn.robotResponse))
    return out
  }
  if (entry.user) out.push(stored(entry.user, turn.userMessage))
  if (turn.robotResponse !== null)
    out.push(entry.assistant ? stored(entry.assistant, turn.robotResponse) : plain('ai', turn.robotResponse))
  return out
}

function stored(side: NonNullable<Side>, text: string): StoredMessage {
  const data = { content: text, ...side.data } as unknown as StoredMessage['data']
  return { type: side.type, data }
}

function plain(type: 'human' | 'ai', content: string): StoredMessage {
  return { type, data: { content, role: undefined, name: undefined, tool_call_id: undefined } }
}
