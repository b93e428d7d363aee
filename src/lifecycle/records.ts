// The JSON-lines format of export and import: one object a line, with the fields of the HTTP API plus
// `tenantId` and `type`. Timestamps carry microseconds (the database's precision), so a round trip is
// exact; import validates every line with the API's limits before anything of it is stored.
import { ValidationError } from '../errors.js'
import { LIMITS } from '../store/limits.js'
import * as v from '../store/validate.js'

export interface SessionRecord {
  type: 'session'
  tenantId: string
  id: string
  userId: string | null
  userMetadata: Record<string, unknown>
  createdAt: string
  lastActive: string
  messageCount: number
}

export interface TurnRecord {
  type: 'turn'
  tenantId: string
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  /** null: the turn awaits its answer. */
  robotResponse: string | null
  metadata: Record<string, unknown>
  createdAt: string
}

export interface InteractionRecord {
  type: 'interaction'
  tenantId: string
  id: string
  robotId: string
  interactionType: string
  durationMs: number
  success: boolean
  metadata: Record<string, unknown>
  createdAt: string
}

export type LifecycleRecord = SessionRecord | TurnRecord | InteractionRecord
export type RecordType = LifecycleRecord['type']

/** SQL for a timestamptz as ISO 8601 UTC with microseconds: what export writes. */
export const isoMicros = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

const FIELDS: Record<RecordType, readonly string[]> = {
  session: ['type', 'tenantId', 'id', 'userId', 'userMetadata', 'createdAt', 'lastActive', 'messageCount'],
  turn: [
    'type',
    'tenantId',
    'id',
    'sessionId',
    'robotPersonality',
    'userMessage',
    'robotResponse',
    'metadata',
    'createdAt',
  ],
  interaction: [
    'type',
    'tenantId',
    'id',
    'robotId',
    'interactionType',
    'durationMs',
    'success',
    'metadata',
    'createdAt',
  ],
}

/** A timestamp as given (its microseconds kept), once checked as the API checks it. */
function time(field: string, value: unknown): string {
  v.timestamp(field, value)
  return value as string
}

function tenant(value: unknown): string {
  try {
    return v.tenantId(value)
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError('tenantId', err.message.replace(/^tenant: /, ''))
    throw err
  }
}

function integer(field: string, value: unknown, max = 2_147_483_647): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new ValidationError(field, `must be an integer from 0 to ${max}`)
  return value
}

/** Parses and validates one line; throws ValidationError naming the field (or `line`). */
export function parseRecord(line: string): LifecycleRecord {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch (err) {
    throw new ValidationError('line', `is not valid JSON (${(err as Error).message})`)
  }
  const o = v.requireObject('line', raw)
  const type = o.type
  if (type !== 'session' && type !== 'turn' && type !== 'interaction')
    throw new ValidationError('type', 'must be "session", "turn" or "interaction"')
  v.knownFields('', o, FIELDS[type])
  const tenantId = tenant(o.tenantId)
  if (type === 'session') {
    return {
      type,
      tenantId,
      id: v.identifier('id', o.id, LIMITS.sessionIdMax),
      userId:
        o.userId === null || o.userId === undefined
          ? null
          : v.identifier('userId', o.userId, LIMITS.userIdMax),
      userMetadata: v.metadata('userMetadata', o.userMetadata),
      createdAt: time('createdAt', o.createdAt),
      lastActive: time('lastActive', o.lastActive),
      messageCount: integer('messageCount', o.messageCount),
    }
  }
  if (type === 'turn') {
    return {
      type,
      tenantId,
      id: v.uuid('id', o.id),
      sessionId: v.identifier('sessionId', o.sessionId, LIMITS.sessionIdMax),
      robotPersonality: v.identifier('robotPersonality', o.robotPersonality, LIMITS.nameMax),
      userMessage: v.text('userMessage', o.userMessage),
      robotResponse: o.robotResponse === null ? null : v.text('robotResponse', o.robotResponse),
      metadata: v.metadata('metadata', o.metadata),
      createdAt: time('createdAt', o.createdAt),
    }
  }
  if (typeof o.success !== 'boolean') throw new ValidationError('success', 'must be true or false')
  return {
    type,
    tenantId,
    id: v.uuid('id', o.id),
    robotId: v.identifier('robotId', o.robotId, LIMITS.nameMax),
    interactionType: v.identifier('interactionType', o.interactionType, LIMITS.nameMax),
    durationMs: integer('durationMs', o.durationMs),
    success: o.success,
    metadata: v.metadata('metadata', o.metadata),
    createdAt: time('createdAt', o.createdAt),
  }
}
