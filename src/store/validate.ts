// Input checks that run before any SQL: each failure is a ValidationError naming the field.
import { ValidationError } from '../errors.js'
import { isUuid, newId, uuidv7Time } from './ids.js'
import { LIMITS } from './limits.js'

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/

/** Length in characters (code points), as PostgreSQL's char_length counts them. */
export function charLength(s: string): number {
  let n = 0
  for (const _ of s) n++
  return n
}

export function requireString(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${typeName(value)}`)
  if (!value.isWellFormed()) throw new ValidationError(field, 'is not valid Unicode (lone surrogate)')
  return value
}

/** An identifier: 1..max characters, no control characters. */
export function identifier(field: string, value: unknown, max: number): string {
  const s = requireString(field, value)
  const len = charLength(s)
  if (len < 1 || len > max) throw new ValidationError(field, `must be 1 to ${max} characters, got ${len}`)
  if (CONTROL_CHARS.test(s)) throw new ValidationError(field, 'must not contain control characters')
  return s
}

/** Free text up to max characters; any character PostgreSQL text can hold (no NUL). */
export function text(field: string, value: unknown, max: number = LIMITS.messageMax): string {
  const s = requireString(field, value)
  if (s.includes('\u0000')) throw new ValidationError(field, 'must not contain the NUL character')
  if (s.length > max && charLength(s) > max) {
    throw new ValidationError(field, `must be at most ${max} characters, got ${charLength(s)}`)
  }
  return s
}

/** A JSON object of at most 16 KiB serialized; no NUL characters (jsonb cannot hold them). */
export function metadata(field: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, `must be a JSON object, got ${typeName(value)}`)
  }
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    throw new ValidationError(field, 'must be serializable as JSON')
  }
  const bytes = Buffer.byteLength(json, 'utf8')
  if (bytes > LIMITS.metadataBytes) {
    throw new ValidationError(field, `must be at most ${LIMITS.metadataBytes} bytes as JSON, got ${bytes}`)
  }
  if (json.includes('\\u0000')) throw new ValidationError(field, 'must not contain the NUL character')
  if (!json.isWellFormed() || /\\ud[89a-f][0-9a-f]{2}/i.test(json)) {
    throw new ValidationError(field, 'is not valid Unicode (lone surrogate)')
  }
  return value as Record<string, unknown>
}

export function timestamp(field: string, value: unknown): Date {
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined
  if (!d || Number.isNaN(d.getTime())) {
    throw new ValidationError(field, 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z')
  }
  if (
    typeof value === 'string' &&
    !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
  ) {
    throw new ValidationError(field, 'must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z')
  }
  const year = d.getUTCFullYear()
  if (year < 1970 || year > 9999) throw new ValidationError(field, 'must be between 1970 and 9999')
  return d
}

/**
 * The id and created_at of a new row. Without createdAt, the id must be a UUIDv7 (its timestamp
 * becomes createdAt); with neither, both are made here. Either way a retry repeats the same key.
 */
export function rowKey(
  idField: string,
  id: unknown,
  createdAtField: string,
  createdAt: unknown,
): { id: string; createdAt: Date } {
  if (id === undefined || id === null) {
    const fresh = newId()
    return {
      id: fresh,
      createdAt: createdAt === undefined ? (uuidv7Time(fresh) as Date) : timestamp(createdAtField, createdAt),
    }
  }
  if (typeof id !== 'string' || !isUuid(id)) throw new ValidationError(idField, 'must be a UUID')
  const lower = id.toLowerCase()
  if (createdAt !== undefined && createdAt !== null)
    return { id: lower, createdAt: timestamp(createdAtField, createdAt) }
  const t = uuidv7Time(lower)
  if (!t)
    throw new ValidationError(
      idField,
      `must be a UUIDv7 when ${createdAtField} is not given (its timestamp becomes ${createdAtField})`,
    )
  return { id: lower, createdAt: t }
}

export function limit(field: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
    throw new ValidationError(field, `must be an integer from 1 to ${max}`)
  }
  return n
}

export function tenantId(value: unknown): string {
  const s = identifier('tenant', value, LIMITS.tenantIdMax)
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) {
    throw new ValidationError(
      'tenant',
      'must start with a letter or digit and hold only letters, digits, ".", "_" and "-"',
    )
  }
  return s
}

/**
 * Refuses fields the API does not know, as the HTTP schemas do: a misspelt field (`robot_response`,
 * `userID`) must not be dropped silently. Fields set to undefined count as absent.
 */
export function knownFields<T extends object>(field: string, value: T, allowed: readonly string[]): T {
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined && !allowed.includes(key)) {
      throw new ValidationError(field === '' ? key : `${field}.${key}`, 'is not a known field')
    }
  }
  return value
}

/** A UUID (any version), lower-cased. */
export function uuid(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isUuid(value)) throw new ValidationError(field, 'must be a UUID')
  return value.toLowerCase()
}

/** An options object: undefined is {}, anything else must be an object of known fields. */
export function options<T extends object>(
  field: string,
  value: T | undefined,
  allowed: readonly string[],
): T {
  if (value === undefined) return {} as T
  return knownFields(field, requireObject(field, value) as T, allowed)
}

export function requireObject(field: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(field, `must be an object, got ${typeName(value)}`)
  }
  return value as Record<string, unknown>
}

export function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}
