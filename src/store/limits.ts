// Input limits of DESIGN.md, in one place: validation, the HTTP schemas and the docs read these.
export const LIMITS = {
  sessionIdMax: 100,
  nameMax: 50, // robotPersonality, robotId, interactionType
  tenantIdMax: 64,
  userIdMax: 100,
  messageMax: 100_000,
  metadataBytes: 16 * 1024,
  historyLimitMax: 200,
  historyLimitDefault: 20,
  /**
   * Text one history page may carry (messages and metadata, bytes): a page stops adding turns once
   * this is passed (always at least one turn) and gives a nextCursor. Bounds memory and answer size.
   */
  historyPageBytes: 4 * 1024 * 1024,
  listLimitMax: 200,
  listLimitDefault: 50,
  maxTokensMax: 10_000_000, // messages({ maxTokens }): far above any model's context window
  eventsPerBatchMax: 1000,
  bodyBytes: 1024 * 1024,
  // base64url of the largest key: a 20-character timestamp, '|' and 100 four-byte characters (562).
  cursorMaxChars: 600,
} as const
