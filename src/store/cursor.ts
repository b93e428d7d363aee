// Keyset cursors: an opaque base64url string holding the sort key of the last row of a page,
// a timestamp in microseconds since the epoch (exact, unlike a JS Date) and the row id.
import { ValidationError } from '../errors.js'

export interface CursorKey {
  /** Microseconds since 1970-01-01 UTC, as a decimal string (exceeds 2^53 safely as text). */
  us: string
  id: string
}

/**
 * A timestamp above every stored one (year 287,000; timestamptz ends in 294,276), in microseconds:
 * the key of a first page, before any cursor.
 */
export const FAR_FUTURE_US = '9000000000000000000'

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(`${key.us}|${key.id}`, 'utf8').toString('base64url')
}

export function decodeCursor(field: string, cursor: unknown): CursorKey | null {
  if (cursor === undefined || cursor === null || cursor === '') return null
  if (typeof cursor !== 'string' || cursor.length > 400 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new ValidationError(field, 'is not a cursor returned by this API')
  }
  const raw = Buffer.from(cursor, 'base64url').toString('utf8')
  const bar = raw.indexOf('|')
  const us = raw.slice(0, bar)
  const id = raw.slice(bar + 1)
  if (bar < 1 || !/^-?\d{1,19}$/.test(us) || id.length < 1 || id.length > 100) {
    throw new ValidationError(field, 'is not a cursor returned by this API')
  }
  return { us, id }
}
