// The errors of encrypted content. None carries key material or plain text: only tenant ids, key
// versions and master key ids.
import { RobotBrainError } from '../../errors.js'

/**
 * A master key is missing or wrong (ROBOT_BRAIN_MASTER_KEY unset, malformed, without the id a data key
 * was wrapped by, or a key that does not open it). Nothing was written. A fault of the deployment: 503,
 * so clients retry once it is fixed.
 */
export class EncryptionKeyError extends RobotBrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('encryption_key_unavailable', 503, message, options)
  }
}

/** The tenant's data keys were destroyed (`encryption shred`): its content can never be read again. */
export class ContentShreddedError extends RobotBrainError {
  constructor(message: string) {
    super('content_shredded', 410, message)
  }
}

/**
 * A ciphertext does not open with its tenant's key for the row it is in: it was altered, or copied from
 * another row or tenant. Never answered as garbage.
 */
export class ContentUnreadableError extends RobotBrainError {
  constructor(message: string, options?: ErrorOptions) {
    super('content_unreadable', 500, message, options)
  }
}
