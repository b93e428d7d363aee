// The shapes the store takes and returns (the library contract of DESIGN.md).

export type Metadata = Record<string, unknown>

export interface TurnInput {
  sessionId: string
  robotPersonality: string
  userMessage: string
  /**
   * The robot's answer. Omitted or null: the turn is stored awaiting its answer (a streamed reply),
   * and completeTurn adds it later.
   */
  robotResponse?: string | null
  metadata?: Metadata
  /** The user the session belongs to (1 to 100 characters): set on the session when it has none. */
  userId?: string
  /** UUID; when given without createdAt it must be a UUIDv7. Made here when absent. */
  id?: string
  /** ISO 8601 string or Date; defaults to the UUIDv7 id's timestamp. */
  createdAt?: string | Date
  /** A vector the client computed for this turn, stored with its model name (semantic search). */
  embedding?: { model: string; vector: number[] }
}

export interface Turn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  /** null while the turn awaits its answer (see completeTurn). */
  robotResponse: string | null
  metadata: Metadata
  /** ISO 8601, UTC, millisecond precision. */
  createdAt: string
}

export interface CompleteTurnInput {
  /** The robot's answer. */
  robotResponse: string
  /** Merged into the turn's metadata (top-level keys replaced), e.g. the model or token usage. */
  metadata?: Metadata
}

export interface RecordTurnResult {
  turn: Turn
  /** false when a turn with this id was already stored (a replay): nothing changed. */
  created: boolean
}

export interface HistoryOptions {
  /** 1 to 200, default 20. */
  limit?: number
  /** 'desc' (default): newest first, paging back with `before`. 'asc': oldest first, paging on with `after`. */
  order?: 'asc' | 'desc'
  /** With order 'desc': a nextCursor from an earlier page; returns turns older than it. */
  before?: string | null
  /** With order 'asc': a nextCursor from an earlier page; returns turns newer than it. */
  after?: string | null
}

export interface HistoryPage {
  turns: Turn[]
  /** Pass as `before` (order 'desc') or `after` (order 'asc') for the next page; null on the last. */
  nextCursor: string | null
}

/** One chat message, the shape the OpenAI, Anthropic and Vercel AI SDK message lists take. */
export interface ChatMessage {
  role: 'user' | 'assistant'
  content: string
  /** The turn this message belongs to. */
  turnId: string
  /** The turn's createdAt (ISO 8601). */
  createdAt: string
}

export interface MessagesOptions {
  /** How many turns (not messages): 1 to 200, default 20. The newest ones before `before`. */
  limit?: number
  /** A nextCursor from an earlier call: messages of turns older than it. */
  before?: string | null
  /** Drops the oldest turns until their tokens fit (o200k_base, see estimateTokens). */
  maxTokens?: number
}

export interface MessagesPage {
  /** Oldest first (chat order): each turn's user message, then its answer when it has one. */
  messages: ChatMessage[]
  /** Pass as `before` for the turns older than these; null when there are none. */
  nextCursor: string | null
}

export interface Session {
  id: string
  /** The user the session belongs to, or null. */
  userId: string | null
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
  /** Only the sessions of this user. */
  userId?: string
  /** Only sessions with at least one turn of this robot personality. */
  robotPersonality?: string
}

export interface PutSessionInput {
  /** Sets the session's user; null removes it; omitted leaves it. */
  userId?: string | null
  /** Replaces the session's userMetadata; omitted leaves it ({} for a new session). */
  userMetadata?: Metadata
}

export interface UpdateSessionInput {
  /** Sets the session's user; null removes it; omitted leaves it. */
  userId?: string | null
  /** Merged into userMetadata (top-level keys replaced). */
  userMetadata?: Metadata
}

export interface PutSessionResult {
  session: Session
  /** true when the session did not exist before. */
  created: boolean
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
  /** null when none of the session's turns has an answer yet. */
  avgResponseLength: number | null
  avgUserMessageLength: number
}
