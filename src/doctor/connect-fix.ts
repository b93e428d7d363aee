// The fix doctor proposes for a connection that failed: the one the error names when it is a
// configuration error (a pooler refusing startup parameters: DATABASE_POOLED=true), otherwise the
// usual suspects. Blaming host and password for a pooler's refusal sends people the wrong way.
import { POOLER_FIX } from '../db/connect-errors.js'
import { UNSUPPORTED_STARTUP_PARAMETER } from '../db/retry.js'
import { ConfigError } from '../errors.js'

export function connectFix(err: unknown): string {
  if (err instanceof ConfigError) {
    return UNSUPPORTED_STARTUP_PARAMETER.test(err.message) ? POOLER_FIX : 'see the message'
  }
  return 'check the host, port, user, password and network access'
}
