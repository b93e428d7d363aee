// Token counts for LLM context budgets: gpt-tokenizer's o200k_base encoding (GPT-4o and later),
// offline. Special-token text such as "<|endoftext|>" in a message counts as ordinary text.
import { countTokens as count } from 'gpt-tokenizer'

const NO_SPECIAL = { disallowedSpecial: new Set<string>() }

/** Tokens of each chat message's framing (role and separators), as OpenAI's chat format counts them. */
export const MESSAGE_OVERHEAD_TOKENS = 4

export function countTokens(text: string): number {
  return text === '' ? 0 : count(text, NO_SPECIAL)
}

/** A turn as context: the user's message and the robot's answer (when it has one), each framed. */
export function turnTokens(turn: { userMessage: string; robotResponse: string | null }): number {
  const robot = turn.robotResponse === null ? 0 : countTokens(turn.robotResponse) + MESSAGE_OVERHEAD_TOKENS
  return countTokens(turn.userMessage) + MESSAGE_OVERHEAD_TOKENS + robot
}
