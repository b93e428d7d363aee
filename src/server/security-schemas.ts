// Schemas of /v1/audit, /v1/keys and /v1/users (TypeBox → JSON Schema → /openapi.json). The library
// checks the same again; its ValidationError names the field the same way.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { KEY_NAME_MAX } from '../keys/keys.js'
import { AUDIT_LIMITS } from '../security/audit.js'
import { LIMITS } from '../store/limits.js'
import { NO_CONTROL_CHARS } from './schemas.js'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Timestamp = (description: string) => Type.String({ format: 'date-time', description })

export const AuditQuery = Type.Object(
  {
    from: Type.Optional(Timestamp('Entries at or after this time (ISO 8601).')),
    to: Type.Optional(Timestamp('Entries before this time (ISO 8601).')),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: AUDIT_LIMITS.listMax,
        description: `1 to ${AUDIT_LIMITS.listMax}, default ${AUDIT_LIMITS.listDefault}.`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 40, description: 'A nextCursor from an earlier page.' }),
    ),
  },
  { additionalProperties: false },
)
export type AuditQuery = Static<typeof AuditQuery>

export const AuditEvent = Type.Object({
  id: Type.String({ format: 'uuid' }),
  at: Type.String({ format: 'date-time' }),
  actor: Type.String({
    description: '`key:<key id>`, `anonymous`, `owner` (the command line), `library`, `address:<ip>`.',
  }),
  action: Type.String({
    description:
      'key.create, key.revoke, scope.denied, auth.failed, session.delete, user.export, user.erase, and others.',
  }),
  target: Type.String({
    description: 'What it happened to: `session:<id>`, `user:<id>`, `key:<id>`, a route.',
  }),
  details: Type.Object(
    {},
    { additionalProperties: true, description: 'Ids, counts, scopes; never content.' },
  ),
})

export const AuditPage = Type.Object({
  events: Type.Array(AuditEvent, { description: 'Oldest first.' }),
  nextCursor: Nullable(Type.String({ description: 'Pass as cursor for the next page; null on the last.' })),
})

const Scope = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')], {
  description: 'read: GET only; write: read and write (default); admin: also users, audit and keys.',
})

export const KeyCreateBody = Type.Object(
  {
    scope: Type.Optional(Scope),
    name: Type.Optional(
      Type.String({
        maxLength: KEY_NAME_MAX,
        pattern: NO_CONTROL_CHARS,
        description: 'A label, e.g. "web app".',
      }),
    ),
  },
  { additionalProperties: false },
)
export type KeyCreateBody = Static<typeof KeyCreateBody>

export const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  tenant: Type.String(),
  name: Type.String(),
  scope: Scope,
  prefix: Type.String({ description: 'The first characters of the key, to tell keys apart.' }),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Nullable(Type.String({ format: 'date-time' })),
  lastUsedAt: Nullable(Type.String({ format: 'date-time' })),
})

export const CreatedApiKey = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The key itself, shown this once: only its hash is stored.' }),
})

export const KeyList = Type.Object({ keys: Type.Array(ApiKey, { description: 'Newest first.' }) })

export const KeyParams = Type.Object(
  { keyId: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
)
export type KeyParams = Static<typeof KeyParams>

export const RevokedApiKey = Type.Object({ ...ApiKey.properties, alreadyRevoked: Type.Boolean() })

export const UserParams = Type.Object(
  {
    userId: Type.String({
      minLength: 1,
      maxLength: LIMITS.userIdMax,
      pattern: NO_CONTROL_CHARS,
      description: 'The userId of sessions.',
    }),
  },
  { additionalProperties: false },
)
export type UserParams = Static<typeof UserParams>

export const UserErasure = Type.Object({
  userId: Type.String(),
  sessions: Type.Integer({ description: 'Sessions erased by this request (0 when already erased).' }),
  turns: Type.Integer({ description: 'Turns erased by this request.' }),
  auditId: Type.String({ format: 'uuid', description: 'The audit log entry of this erasure.' }),
})
