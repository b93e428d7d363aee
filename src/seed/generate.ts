// The rows `seed` writes, generated lazily in column-oriented batches (ready for unnest) so a million
// turns never sit in memory at once. Everything is drawn from seeded Random sources in a fixed order,
// independent of the batch size: the same seed and range give the same rows, ids included.
import { Random } from './random.js'
import { robotReply, userMessage } from './text.js'
import { TOPICS } from './topics.js'
import type { Personality } from './voices.js'

export interface SeedPlan {
  sessions: number
  /** Turns per session (exactly). */
  turns: number
  /** Interaction events in total. */
  events: number
  from: Date
  to: Date
  personalities: readonly Personality[]
  seed: number
  /** Rows per INSERT statement. */
  batchSize: number
}

export interface TurnBatch {
  ids: string[]
  sessionIds: string[]
  personalities: string[]
  userMessages: string[]
  robotResponses: string[]
  /** JSON text of each turn's metadata. */
  metadata: string[]
  createdAt: string[]
  /** Sessions starting in this batch, with their user metadata (JSON text). */
  newSessions: { ids: string[]; userMetadata: string[] }
}

export interface EventBatch {
  ids: string[]
  robotIds: string[]
  types: string[]
  durations: number[]
  success: boolean[]
  metadata: string[]
  createdAt: string[]
}

const CHANNELS = ['web', 'web', 'ios', 'android', 'kiosk', 'voice']
const LOCALES = ['en-US', 'en-US', 'en-GB', 'es-ES', 'fr-FR', 'de-DE', 'ja-JP', 'pt-BR']
const NAMES = [
  'Ada',
  'Bruno',
  'Chloé',
  'Dmitri',
  'Eun-ji',
  'Farah',
  'Gabriel',
  'Hana',
  'Iñaki',
  'Jonas',
  'Kofi',
]
const PLANS = ['free', 'free', 'free', 'plus', 'pro']

const ROBOTS = ['atlas-01', 'atlas-02', 'bolt-07', 'cosmo-03', 'dot-11', 'echo-05', 'nova-09', 'pixel-02']
const LOCATIONS = ['lobby', 'store-front', 'museum-hall-b', 'airport-gate-12', 'library', 'office-3f']
/** Interaction types with a typical duration (ms) and success rate. */
const INTERACTIONS: ReadonlyArray<readonly [type: string, meanMs: number, success: number]> = [
  ['greeting', 1_800, 0.99],
  ['conversation', 45_000, 0.95],
  ['navigation', 25_000, 0.88],
  ['object_pickup', 6_000, 0.81],
  ['face_recognition', 700, 0.93],
  ['photo', 4_000, 0.97],
  ['dance', 30_000, 0.99],
  ['handoff_to_human', 12_000, 0.9],
]

/** Months (first day, YYYY-MM-01) the range [from, to) touches. */
export function monthsInRange(from: Date, to: Date): string[] {
  const months: string[] = []
  const last = new Date(to.getTime() - 1)
  let y = from.getUTCFullYear()
  let m = from.getUTCMonth()
  while (y < last.getUTCFullYear() || (y === last.getUTCFullYear() && m <= last.getUTCMonth())) {
    months.push(`${String(y).padStart(4, '0')}-${String(m + 1).padStart(2, '0')}-01`)
    if (++m === 12) {
      m = 0
      y++
    }
  }
  return months
}

function emptyTurnBatch(): TurnBatch {
  return {
    ids: [],
    sessionIds: [],
    personalities: [],
    userMessages: [],
    robotResponses: [],
    metadata: [],
    createdAt: [],
    newSessions: { ids: [], userMetadata: [] },
  }
}

/** Turn times of one session: think-time gaps, squeezed when the session would not fit the range. */
function turnTimes(rnd: Random, turns: number, fromMs: number, toMs: number): number[] {
  const gaps: number[] = []
  let span = 0
  for (let i = 1; i < turns; i++) {
    const gap = rnd.chance(0.05) ? rnd.int(600_000, 7_200_000) : rnd.int(4_000, 240_000)
    gaps.push(gap)
    span += gap
  }
  const range = toMs - fromMs - 1
  const scale = span > range ? range / span : 1
  const start = fromMs + Math.floor(rnd.next() * Math.max(0, range - span * scale))
  const times = [start]
  let t = start
  for (const gap of gaps) {
    t += gap * scale
    times.push(Math.floor(t))
  }
  return times
}

/** Sessions and their turns, `plan.batchSize` turns per batch (a session may span two batches). */
export function* turnBatches(plan: SeedPlan): Generator<TurnBatch> {
  const rnd = new Random(plan.seed)
  const fromMs = plan.from.getTime()
  const toMs = plan.to.getTime()
  let batch = emptyTurnBatch()
  for (let s = 0; s < plan.sessions; s++) {
    const sessionId = `sess_${rnd.hex(16)}`
    const personality = rnd.pick(plan.personalities)
    let topic = rnd.pick(TOPICS)
    const channel = rnd.pick(CHANNELS)
    const locale = rnd.pick(LOCALES)
    batch.newSessions.ids.push(sessionId)
    batch.newSessions.userMetadata.push(
      JSON.stringify({ name: rnd.pick(NAMES), locale, plan: rnd.pick(PLANS), channel, seeded: true }),
    )
    const times = turnTimes(rnd, plan.turns, fromMs, toMs)
    for (let i = 0; i < plan.turns; i++) {
      if (i > 0 && rnd.chance(0.1)) topic = rnd.pick(TOPICS) // people change the subject
      const ms = times[i] as number
      const user = userMessage(rnd, topic, i)
      const reply = robotReply(rnd, personality, topic)
      batch.ids.push(rnd.uuidv7(ms))
      batch.sessionIds.push(sessionId)
      batch.personalities.push(personality)
      batch.userMessages.push(user)
      batch.robotResponses.push(reply)
      batch.metadata.push(
        JSON.stringify({
          channel,
          locale,
          turn: i + 1,
          latencyMs: Math.max(80, Math.round(rnd.normal(900, 350))),
          tokens: Math.ceil((user.length + reply.length) / 4),
        }),
      )
      batch.createdAt.push(new Date(ms).toISOString())
      if (batch.ids.length >= plan.batchSize) {
        yield batch
        batch = emptyTurnBatch()
      }
    }
  }
  if (batch.ids.length > 0 || batch.newSessions.ids.length > 0) yield batch
}

/** Interaction events spread uniformly over the range, from their own random source. */
export function* eventBatches(plan: SeedPlan): Generator<EventBatch> {
  // A separate stream: changing --events leaves the turns of a seed unchanged.
  const rnd = new Random(plan.seed ^ 0x6a09e667)
  const fromMs = plan.from.getTime()
  const span = plan.to.getTime() - fromMs
  for (let done = 0; done < plan.events; ) {
    const n = Math.min(plan.batchSize, plan.events - done)
    const b: EventBatch = {
      ids: [],
      robotIds: [],
      types: [],
      durations: [],
      success: [],
      metadata: [],
      createdAt: [],
    }
    for (let i = 0; i < n; i++) {
      const ms = fromMs + Math.floor(rnd.next() * span)
      const [type, meanMs, successRate] = rnd.pick(INTERACTIONS)
      b.ids.push(rnd.uuidv7(ms))
      b.robotIds.push(rnd.pick(ROBOTS))
      b.types.push(type)
      b.durations.push(Math.max(50, Math.round(rnd.normal(meanMs, meanMs / 3))))
      b.success.push(rnd.chance(successRate))
      b.metadata.push(
        JSON.stringify({
          location: rnd.pick(LOCATIONS),
          firmware: `2.${rnd.int(3, 6)}.${rnd.int(0, 9)}`,
          battery: rnd.int(8, 100),
        }),
      )
      b.createdAt.push(new Date(ms).toISOString())
    }
    done += n
    yield b
  }
}
