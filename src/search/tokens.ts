// A turn's tokens as LLM context, counted with the store's one token counter (store/tokens.ts).
import { estimateMessageTokens } from '../store/tokens.js'

/** A turn as context: the user's message and the robot's answer (when it has one), each framed. */
export function turnTokens(turn: { userMessage: string; robotResponse: string | null }): number {
  const robot = turn.robotResponse === null ? 0 : estimateMessageTokens(turn.robotResponse)
  return estimateMessageTokens(turn.userMessage) + robot
}
