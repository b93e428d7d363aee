// The shapes the store takes and returns (the library contract of DESIGN.md).

export type Metadata = Record<string, unknown>

export interface TurnInput {
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string
  metadata?: Metadata
  /** UUID; when given without createdAt it must be a UUIDv7. Made here when absent. */
  id?: string
  /** ISO 8601 string or Date; defaults to the UUIDv7 id's timestamp. */
  createdAt?: string | Date
}

export interface Turn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string
  metadata: Metadata
  /** ISO 8601, UTC, millisecond precision. */
  createdAt: string
}

export interface RecordTurnResult {
  turn: Turn
  /** false when a turn with this id was already stored (a replay): nothing changed. */
  created: boolean
}

export interface HistoryOptions {
  /** 1 to 200, default 20. */
  limit?: number
  /** A nextCursor from an earlier page: returns turns older than it. */
  before?: string | null
}

export interface HistoryPage {
  turns: Turn[]
  nextCursor: string | null
}

export interface Session {
  id: string
  userMetadata: Metadata
  createdAt: string
  lastActive: string
  messageCount: number
}

export interface ListSessionsOptions {
  limit?: number
  cursor?: string | null
  /** Only sessions active at or after this time. */
  activeSince?: string | Date
}

export interface SessionPage {
  sessions: Session[]
  nextCursor: string | null
}

export interface InteractionInput {
  robotId: string
  interactionType: string
  durationMs: number
  success: boolean
  metadata?: Metadata
  id?: string
  createdAt?: string | Date
}

export interface RecordInteractionsResult {
  /** Events accepted (all of them: a replayed id counts as accepted). */
  accepted: number
  /** Events newly stored (replayed ids are not stored twice). */
  inserted: number
}

export interface SessionStats {
  sessionId: string
  messageCount: number
  firstMessage: string
  lastMessage: string
  avgResponseLength: number
  avgUserMessageLength: number
}
