// Typed errors of the public API. Every error the store raises on purpose is one of these;
// the HTTP layer maps `status` and `code` straight to its JSON error body.

export class RobotBrainError extends Error {
  readonly code: string
  readonly status: number
  constructor(code: string, status: number, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.status = status
  }
}

/** Bad input. `field` names the offending field, e.g. `metadata` or `events[3].robotId`. */
export class ValidationError extends RobotBrainError {
  readonly field: string
  constructor(field: string, message: string) {
    super('validation_failed', 400, `${field}: ${message}`)
    this.field = field
  }
}

export class NotFoundError extends RobotBrainError {
  constructor(message: string) {
    super('not_found', 404, message)
  }
}

export class ConflictError extends RobotBrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', 409, message, options)
  }
}

/**
 * The database could not be reached within the retry budget; safe to retry later. From recordTurn,
 * `turnId` is the turn's id (the one the library made when the caller gave none): the write may or
 * may not have been stored, and sending the turn again with this id stores it exactly once.
 */
export class UnavailableError extends RobotBrainError {
  readonly retryAfterSeconds: number
  readonly turnId?: string
  constructor(message: string, options?: ErrorOptions & { retryAfterSeconds?: number; turnId?: string }) {
    super('unavailable', 503, message, options)
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1
    if (options?.turnId !== undefined) this.turnId = options.turnId
  }
}

/** Configuration that cannot work (bad URL, privileged role behind a pooler, locked data directory...). */
export class ConfigError extends RobotBrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('config_error', 500, message, options)
  }
}

/** A migration problem: an applied file edited afterwards, a schema newer than this code. */
export class MigrationError extends RobotBrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('migration_error', 500, message, options)
  }
}
