// What both chat adapters do with a session's turns: read them all, oldest first, and find the newest.
import { ValidationError } from '../errors.js'
import type { Store } from '../store/store.js'
import type { Turn } from '../store/types.js'

/** Turns per history page: the store's maximum. */
const PAGE = 200

/** Every turn of a session, oldest first (an unknown session has none). */
export async function allTurns(store: Store, sessionId: string): Promise<Turn[]> {
  const turns: Turn[] = []
  let after: string | null = null
  do {
    const page = await store.history(sessionId, { limit: PAGE, order: 'asc', after })
    turns.push(...page.turns)
    after = page.nextCursor
  } while (after)
  return turns
}

/** The session's newest turn, or null when it has none. */
export async function newestTurn(store: Store, sessionId: string): Promise<Turn | null> {
  const { turns } = await store.history(sessionId, { limit: 1, order: 'desc' })
  return turns[0] ?? null
}

/** The personality the adapters record turns under when none is given. */
export const DEFAULT_PERSONALITY = 'assistant'

/** A plain-object view of a turn's metadata entry written by an adapter, or undefined. */
export function adapterEntry(turn: Turn, key: string): Record<string, unknown> | undefined {
  const entry = turn.metadata[key]
  return entry !== null && typeof entry === 'object' && !Array.isArray(entry)
    ? (entry as Record<string, unknown>)
    : undefined
}

/**
 * Runs a store write for one message of the caller's list, so a ValidationError names that message
 * (`messages[3]: metadata: must be at most 16384 bytes`) rather than a store field the caller never set.
 */
const MESSAGE_FIELDS = new Set(['userMessage', 'robotResponse', 'metadata'])

export async function forMessage<T>(field: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    if (err instanceof ValidationError && MESSAGE_FIELDS.has(err.field))
      throw new ValidationError(field, err.message)
    throw err
  }
}
