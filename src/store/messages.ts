// Turns as chat messages: the list chatbot code hands to a model (OpenAI, Anthropic, Vercel AI SDK
// all take role + content, oldest first). A turn gives its user message, then its answer if it has one.
import { encodeCursor } from './cursor.js'
import { estimateMessageTokens } from './tokens.js'
import type { TurnRow } from './turns.js'
import type { ChatMessage, MessagesPage } from './types.js'

/**
 * `newestFirst`: the page of turns as history reads it. `older`: whether turns older than the page
 * exist. With `maxTokens`, the oldest turns are dropped until the rest fit; a turn is kept or dropped
 * whole, so a question is never sent without its answer or the reverse.
 */
export function turnsToMessages(
  newestFirst: TurnRow[],
  older: boolean,
  maxTokens: number | null,
): MessagesPage {
  const kept: Array<{ row: TurnRow; messages: ChatMessage[] }> = []
  let tokens = 0
  let dropped = false
  for (const row of newestFirst) {
    const messages = turnMessages(row)
    const cost = messages.reduce((n, m) => n + estimateMessageTokens(m.content), 0)
    if (maxTokens !== null && tokens + cost > maxTokens) {
      dropped = true
      break
    }
    tokens += cost
    kept.push({ row, messages })
  }
  const oldest = kept[kept.length - 1]?.row
  // Older turns exist beyond the page, or were dropped for the budget: continue below the oldest kept.
  // When not even the newest turn fits there is nothing to continue from: null, like an empty session.
  const nextCursor =
    oldest && (older || dropped) ? encodeCursor({ us: oldest.created_us, id: oldest.id }) : null
  return { messages: kept.reverse().flatMap((k) => k.messages), nextCursor }
}

function turnMessages(row: TurnRow): ChatMessage[] {
  const createdAt = new Date(row.created_at).toISOString()
  const messages: ChatMessage[] = [{ role: 'user', content: row.user_message, turnId: row.id, createdAt }]
  if (row.robot_response !== null) {
    messages.push({ role: 'assistant', content: row.robot_response, turnId: row.id, createdAt })
  }
  return messages
}
