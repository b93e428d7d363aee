// What the store does with a tenant's content on its way to and from SQL: seals user messages, robot
// responses and userMetadata of an encrypted tenant before they reach a statement (so group commit and
// the turn statement see only ciphertext, and a turn stays one round trip), and opens them on every
// read. A write the database refuses because this process's state was stale (RB4E1: the tenant was
// encrypted or rotated meanwhile) is sealed again with fresh keys and retried.
import type { Queryable } from '../../db/pool.js'
import { ValidationError } from '../../errors.js'
import type { SearchMode, SearchResponse } from '../../search/types.js'
import { LIMITS } from '../../store/limits.js'
import type { SessionRow } from '../../store/sessions.js'
import type { NewTurn } from '../../store/turns.js'
import {
  anySealedTurn,
  isSealedMetadata,
  openMetadata,
  openText,
  openTurnRow,
  sealMetadata,
  sealText,
} from './content.js'
import { EncryptionKeyError } from './errors.js'
import { isSealed } from './format.js'
import { Keyring, shredded, type TenantCrypto } from './keyring.js'
import { type MasterKeys, parseMasterKeys } from './master-keys.js'

/** SQLSTATEs of migration 0014. */
export const ENCRYPTION_SQLSTATE = { STALE: 'RB4E1', SHREDDED: 'RB4E2' } as const

export class StoreContent {
  readonly keyring: Keyring
  private masters: MasterKeys | null | undefined

  /** `masterKey`: the option's value (format of ROBOT_BRAIN_MASTER_KEY); undefined: the environment. */
  constructor(private readonly masterKey: string | undefined) {
    this.keyring = new Keyring(() => this.masterKeys())
  }

  /** The master keys, parsed once; null when none is configured. Throws when the value is malformed. */
  masterKeys(): MasterKeys | null {
    if (this.masters === undefined) {
      const source = this.masterKey === undefined ? undefined : 'masterKey'
      this.masters = parseMasterKeys(this.masterKey ?? process.env.ROBOT_BRAIN_MASTER_KEY, source)
    }
    return this.masters
  }

  /** The master keys, or a clear error when none is configured. */
  requireMasterKeys(): MasterKeys {
    const m = this.masterKeys()
    if (!m) {
      throw new EncryptionKeyError(
        'no master key: set ROBOT_BRAIN_MASTER_KEY to id:base64key (32 random bytes: openssl rand -base64 32)',
      )
    }
    return m
  }

  state(db: Queryable, tenant: string, fresh = false): Promise<TenantCrypto> {
    return this.keyring.get(db, tenant, fresh)
  }

  /**
   * Runs a write with the tenant's state: `write` seals with it; when the database says the state was
   * stale, again with a fresh one (a few times: a rotation may land in between).
   */
  async sealedWrite<T>(db: Queryable, tenant: string, write: (c: TenantCrypto) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.state(db, tenant, attempt > 0)
      try {
        return await write(c)
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code === ENCRYPTION_SQLSTATE.SHREDDED) throw shredded(tenant)
        if (code !== ENCRYPTION_SQLSTATE.STALE || attempt >= 3) throw err
      }
    }
  }

  sealTurn(c: TenantCrypto, turn: NewTurn): NewTurn {
    if (c.version === 0) return turn
    return {
      ...turn,
      userMessage: sealText(c, 'user_message', turn.id, turn.userMessage),
      robotResponse:
        turn.robotResponse === null ? null : sealText(c, 'robot_response', turn.id, turn.robotResponse),
    }
  }

  sealResponse(c: TenantCrypto, turnId: string, text: string): string {
    return sealText(c, 'robot_response', turnId, text)
  }

  sealMetadata(c: TenantCrypto, sessionId: string, meta: Record<string, unknown>): Record<string, unknown> {
    return sealMetadata(c, sessionId, meta)
  }

  /** Turn rows with their text opened; loads the tenant's keys only when a row is sealed. */
  async openTurns<R extends { id: string; user_message: string; robot_response: string | null }>(
    db: Queryable,
    tenant: string,
    rows: R[],
  ): Promise<R[]> {
    if (!anySealedTurn(rows)) return rows
    const c = await this.readState(
      db,
      tenant,
      rows.flatMap((r) => [r.user_message, r.robot_response]),
    )
    return rows.map((r) => openTurnRow(c, r))
  }

  async openSessions<R extends Pick<SessionRow, 'id' | 'user_metadata'>>(
    db: Queryable,
    tenant: string,
    rows: R[],
  ): Promise<R[]> {
    if (!rows.some((r) => isSealedMetadata(r.user_metadata))) return rows
    const c = await this.readState(
      db,
      tenant,
      rows.map((r) => (isSealedMetadata(r.user_metadata) ? r.user_metadata.$sealed : null)),
    )
    return rows.map((r) => ({ ...r, user_metadata: openMetadata(c, r.id, r.user_metadata) }))
  }

  /** The state for reading these values: reloaded once when a value names a key version not loaded yet. */
  private async readState(
    db: Queryable,
    tenant: string,
    values: Array<string | null>,
  ): Promise<TenantCrypto> {
    const c = await this.state(db, tenant)
    const missing = values.some((v) => {
      if (!isSealed(v)) return false
      const version = Number(v.split(':', 2)[1])
      return !c.keys.has(version) && !c.destroyed.has(version)
    })
    return missing ? this.state(db, tenant, true) : c
  }

  /**
   * The search mode an encrypted tenant may use. Full text cannot index ciphertext (the database never
   * sees the words), so fulltext and hybrid are refused; semantic works only where the tenant opted in
   * (`encryption enable --semantic-search`), because vectors computed from the plain text leak meaning.
   */
  async searchMode(db: Queryable, tenant: string, asked: SearchMode | undefined): Promise<SearchMode | null> {
    const c = await this.state(db, tenant)
    if (c.version === 0) return null
    if (c.version < 0) throw shredded(tenant)
    if (asked === 'fulltext' || asked === 'hybrid') {
      throw new ValidationError(
        'mode',
        `${asked} search is not available for tenant ${tenant}: its content is encrypted, and the database never sees the words to index them` +
          (c.semanticSearch ? "; use mode 'semantic'" : ''),
      )
    }
    if (!c.semanticSearch) {
      throw new ValidationError(
        'mode',
        `search is not available for tenant ${tenant}: its content is encrypted; semantic search needs the tenant's opt-in (encryption enable --semantic-search), since vectors computed from the plain text leak its meaning`,
      )
    }
    return 'semantic'
  }

  /**
   * The embedding worker's texts (all tenants, the owner's pool): opened where the tenant opted in to
   * semantic search, else emptied so no vector is computed from them. Plain rows are left as they are.
   */
  async openQueuedTexts(
    owner: Queryable,
    rows: Array<{
      tenant_id: string
      turn_id: string
      user_message: string | null
      robot_response: string | null
    }>,
  ): Promise<void> {
    for (const r of rows) {
      if (!isSealed(r.user_message) && !isSealed(r.robot_response)) continue
      const c = await this.state(owner, r.tenant_id)
      if (c.version <= 0 || !c.semanticSearch) {
        r.user_message = null
        r.robot_response = null
        continue
      }
      const open = (field: 'user_message' | 'robot_response', v: string | null) =>
        v === null ? null : openText(c, field, r.turn_id, v)
      r.user_message = open('user_message', r.user_message)
      r.robot_response = open('robot_response', r.robot_response)
    }
  }

  /** Search results with their turns and snippets opened. */
  async openSearch(db: Queryable, tenant: string, response: SearchResponse): Promise<SearchResponse> {
    const sealed = response.results.some(
      (r) => isSealed(r.turn.userMessage) || isSealed(r.turn.robotResponse),
    )
    if (!sealed) return response
    const c = await this.state(db, tenant)
    return {
      ...response,
      results: response.results.map((r) => {
        const userMessage = openText(c, 'user_message', r.turn.id, r.turn.userMessage)
        const robotResponse =
          r.turn.robotResponse === null
            ? null
            : openText(c, 'robot_response', r.turn.id, r.turn.robotResponse)
        const text = `${userMessage}\n${robotResponse ?? ''}`.trim()
        return {
          ...r,
          turn: { ...r.turn, userMessage, robotResponse },
          snippet: text.length > 200 ? `${text.slice(0, 200)}…` : text,
        }
      }),
    }
  }
}

/** The merged userMetadata of an encrypted session must fit the same limit as a plain one. */
export function checkMergedMetadata(merged: Record<string, unknown>): void {
  const bytes = Buffer.byteLength(JSON.stringify(merged))
  if (bytes > LIMITS.metadataBytes) {
    throw new ValidationError(
      'userMetadata',
      `merged with the stored userMetadata it would be ${bytes} bytes as JSON, over the limit of ${LIMITS.metadataBytes}`,
    )
  }
}
