// Keyset cursors: an opaque base64url string holding the sort key of the last row of a page,
// a timestamp in microseconds since the epoch (exact, unlike a JS Date) and the row id.
//
// A cursor comes back from the client, so it is input like any other: everything PostgreSQL would
// refuse (a number beyond bigint, a timestamp beyond its range, a NUL or invalid UTF-8 in the id) is
// refused here first, as a ValidationError naming the parameter, never a database error.
import { ValidationError } from '../errors.js'
import { LIMITS } from './limits.js'

export interface CursorKey {
  /** Microseconds since 1970-01-01 UTC, as a decimal string (exceeds 2^53 safely as text). */
  us: string
  id: string
}

/**
 * A timestamp above every stored one (year 287,000; timestamptz ends in 294,276), in microseconds:
 * the key of a first page, before any cursor. Also the highest key a cursor may hold.
 */
export const FAR_FUTURE_US = '9000000000000000000'

/** The lowest timestamptz PostgreSQL holds (4714-11-24 BC), in microseconds since 1970. */
export const EARLIEST_US = '-210866803200000000'

const MAX_ID_CHARS = 100

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.us}|${key.id}`, 'utf8').toString('base64url')
}

/**
 * The key in `cursor`, or null when there is none (first page). `validId` checks the id part (e.g. a
 * UUID for turns); by default any 1 to 100 characters without control characters.
 */
export function decodeCursor(
  field: string,
  cursor: unknown,
  validId: (id: string) => boolean = plainId,
): CursorKey | null {
  if (cursor === undefined || cursor === null || cursor === '') return null
  const invalid = () => new ValidationError(field, 'is not a cursor returned by this API')
  if (typeof cursor !== 'string' || cursor.length > LIMITS.cursorMaxChars || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw invalid()
  const raw = Buffer.from(cursor, 'base64url').toString('utf8')
  // Only the exact encoding of a well-formed key: this rejects invalid UTF-8 (decoded as U+FFFD)
  // and stray bits in the last base64 character.
  if (Buffer.from(raw, 'utf8').toString('base64url') !== cursor) throw invalid()
  const bar = raw.indexOf('|')
  if (bar < 1) throw invalid()
  const us = raw.slice(0, bar)
  const id = raw.slice(bar + 1)
  if (!/^-?(0|[1-9]\d{0,18})$/.test(us)) throw invalid()
  const n = BigInt(us)
  if (n < BigInt(EARLIEST_US) || n > BigInt(FAR_FUTURE_US)) throw invalid()
  if (!validId(id)) throw invalid()
  return { us, id }
}

function plainId(id: string): boolean {
  const chars = [...id].length
  return chars >= 1 && chars <= MAX_ID_CHARS && id.isWellFormed() && !CONTROL_CHARS.test(id)
}
