// API key material: generating a key, hashing it, and reading it from an Authorization header.
import { createHash, randomBytes } from 'node:crypto'

/** Every key starts with this marker, so a leaked key is recognisable (e.g. by secret scanners). */
export const KEY_MARKER = 'rbdb_'
/** Characters of the key kept in clear for listings: the marker and 6 random characters. */
export const PREFIX_LENGTH = KEY_MARKER.length + 6

const KEY_RE = /^rbdb_[A-Za-z0-9_-]{43}$/

/** A new key: 32 random bytes (256 bits), base64url. */
export function generateKey(): string {
  return KEY_MARKER + randomBytes(32).toString('base64url')
}

/**
 * The stored form of a key. A plain SHA-256 is enough here, unlike for passwords: the key is 256
 * random bits, so there is no dictionary to try and brute force is out of reach, and a slow hash
 * (bcrypt, scrypt) would only add latency to every request. A fast, deterministic hash also lets
 * the database find the key by an index on the hash.
 */
export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

export function keyPrefix(key: string): string {
  return key.slice(0, PREFIX_LENGTH)
}

/** Whether a string has the shape of a key this code makes (not whether it exists). */
export function looksLikeKey(token: string): boolean {
  return KEY_RE.test(token)
}

/**
 * The token of an `Authorization: Bearer <token>` header: undefined when there is no header,
 * null when the header is there but not a bearer token.
 */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header)
  return match?.[1] ?? null
}
