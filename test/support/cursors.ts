// Cursors a client could craft: each decodes as base64url, and each would reach PostgreSQL as an
// out-of-range bigint (22003), an out-of-range timestamp or interval (22008), or an invalid character
// in text (22021) if the store did not check it first.
import { randomUUID } from 'node:crypto'

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64url')

export function craftedCursors(): Record<string, string> {
  const uuid = randomUUID()
  return {
    'beyond bigint': b64(`9999999999999999999|${uuid}`),
    'bigint minimum': b64(`-9223372036854775808|${uuid}`),
    'bigint maximum': b64(`9223372036854775807|${uuid}`),
    'just after the far-future key': b64(`9000000000000000001|${uuid}`),
    'before 4714 BC': b64(`-210866803200000001|${uuid}`),
    'NUL id': b64('1|\u0000'),
    'control character in the id': b64('1|a\u0001b'),
    'invalid UTF-8 in the id': b64(Buffer.from([0x31, 0x7c, 0xc3, 0x28])),
    'id of 101 characters': b64(`1|${'x'.repeat(101)}`),
    'empty id': b64('1|'),
    'leading zeros': b64(`0001|${uuid}`),
    'no timestamp': b64(`|${uuid}`),
  }
}

/** The extreme cursors that are valid: they reach the database and must answer a page, not an error. */
export function edgeCursors(): Record<string, string> {
  const uuid = randomUUID()
  return {
    'the far-future key': b64(`9000000000000000000|${uuid}`),
    'the earliest timestamp': b64(`-210866803200000000|${uuid}`),
  }
}
