// Turn and event ids: UUIDv7 made by the application (uuidv7() exists in SQL only from PostgreSQL 18).
// The id's embedded timestamp is the row's default created_at, so a retried write lands on the same key.
import { uuidv7 } from 'uuidv7'

export const newId = (): string => uuidv7()

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(s: string): boolean {
  return UUID_RE.test(s)
}

/** The millisecond timestamp of a UUIDv7, or null when the id is not version 7. */
export function uuidv7Time(id: string): Date | null {
  if (!isUuid(id) || id[14] !== '7') return null
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
  return new Date(ms)
}

/** The first item of each key, in input order: what a batch sends when an id may repeat in it. */
export function firstOfEach<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>()
  return items.filter((item) => {
    const k = key(item)
    return !seen.has(k) && seen.add(k)
  })
}
