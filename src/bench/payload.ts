// The rows both sides write: the same shapes and sizes, made the same way, so neither side pays
// for data the other does not.
import { uuidv7 } from 'uuidv7'

export const USER_MESSAGE =
  'Hello robot, what is the weather like today in the city, and should I take an umbrella?'
export const ROBOT_RESPONSE =
  'Good morning! Today looks mostly sunny with a light breeze from the west and a high of twenty-two ' +
  'degrees. There is a small chance of a shower late in the afternoon, so a compact umbrella in your ' +
  'bag would not hurt. Anything else I can help you plan for the day?'

export interface BenchTurn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string
  metadata: Record<string, unknown>
  createdAt: Date
}

export function makeTurn(sessionId: string, seq: number): BenchTurn {
  return {
    id: uuidv7(),
    sessionId,
    robotPersonality: 'cheerful',
    userMessage: USER_MESSAGE,
    robotResponse: ROBOT_RESPONSE,
    metadata: { channel: 'web', seq },
    createdAt: new Date(),
  }
}

export interface BenchEvent {
  id: string
  robotId: string
  interactionType: string
  durationMs: number
  success: boolean
  metadata: Record<string, unknown>
  createdAt: Date
}

const TYPES = ['greeting', 'answer', 'handoff', 'farewell']

export function makeEvents(n: number, seed: number): BenchEvent[] {
  const now = new Date()
  const events: BenchEvent[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const k = seed + i
    events[i] = {
      id: uuidv7(),
      robotId: `robot-${k % 50}`,
      interactionType: TYPES[k % TYPES.length] as string,
      durationMs: 20 + (k % 980),
      success: k % 17 !== 0,
      metadata: { channel: 'web' },
      createdAt: now,
    }
  }
  return events
}
