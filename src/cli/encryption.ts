// robot-brain-db encryption enable|rotate|shred|status: column-level encryption per tenant. Master keys
// come from ROBOT_BRAIN_MASTER_KEY (`id:base64key,...`, the first current); the database never sees
// them. enable and rotate re-encrypt stored rows in committed batches with a progress line; stopped
// (Ctrl-C, a crash), the same command resumes where the last batch ended.
import type { Command } from 'commander'
import { Progress } from '../lifecycle/progress.js'
import type { ResealProgress } from '../security/encryption/reseal.js'
import {
  type EncryptionStatus,
  encryptedTenants,
  type ResealResult,
  type TenantEncryption,
} from '../security/encryption/tenant-encryption.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

interface EncryptionFlags extends DbFlags {
  tenant?: string
  json?: boolean
  batchSize?: string
  semanticSearch?: boolean
  masterOnly?: boolean
  yes?: boolean
}

const KEY_FORMAT =
  'Master keys: ROBOT_BRAIN_MASTER_KEY=id:base64key[,id:base64key...], 32 random bytes each ' +
  '(openssl rand -base64 32); the first is current, the others only open data keys not yet rewrapped.'

function batchSize(flags: EncryptionFlags): number | undefined {
  if (flags.batchSize === undefined) return undefined
  const n = Number(flags.batchSize)
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new UsageError('--batch-size must be 1 to 10000')
  return n
}

function progressOf(label: string): { progress: Progress; onProgress: (p: ResealProgress) => void } {
  const progress = new Progress(label, 'rows sealed')
  return {
    progress,
    onProgress: (p) =>
      progress.update(
        p.turns + p.sessions,
        p.totalTurns > 0 ? Math.min(1, p.turns / p.totalTurns) : undefined,
      ),
  }
}

function describe(s: EncryptionStatus): string {
  const keys = s.keys.map((k) => `v${k.version} ${k.state} (master ${k.masterKeyId})`).join(', ') || 'none'
  const job = s.job
    ? `; re-encryption (${s.job.kind} to v${s.job.version}) unfinished: ${s.job.turns} turns, ${s.job.sessions} sessions so far, run the command again to resume`
    : ''
  return `tenant ${s.tenantId}: ${s.state}${s.keyVersion ? `, data key v${s.keyVersion}` : ''}, semantic search ${s.semanticSearch ? 'allowed' : 'off'}; keys: ${keys}${job}`
}

function report(flags: EncryptionFlags, verb: string, r: ResealResult): void {
  if (flags.json) {
    printJson(r)
    return
  }
  console.log(`${verb}: ${r.turns} turns and ${r.sessions} sessions sealed with the current key`)
  console.log(describe(r.status))
}

/** enable and rotate alike: re-seal the tenant's rows in batches under a progress line, then report. */
function resealAction(
  label: string,
  run: (
    encryption: TenantEncryption,
    flags: EncryptionFlags,
    options: { batchSize?: number; onProgress: (p: ResealProgress) => void },
  ) => Promise<ResealResult>,
) {
  return async (_opts: unknown, cmd: Command): Promise<void> => {
    const flags = cmd.optsWithGlobals() as EncryptionFlags
    const size = batchSize(flags)
    await withStore(flags, async (store) => {
      const { progress, onProgress } = progressOf(label)
      const encryption = store.as('cli').tenant(flags.tenant as string).encryption
      const r = await run(encryption, flags, { batchSize: size, onProgress }).finally(() => progress.finish())
      const verb = cmd.name() === 'enable' ? 'enabled' : flags.masterOnly ? 'rewrapped' : 'rotated'
      report(flags, verb, r)
    })
  }
}

export function register(program: Command): void {
  const encryption = program
    .command('encryption')
    .description(`column-level encryption per tenant (AES-256-GCM in the application). ${KEY_FORMAT}`)

  encryption
    .command('enable')
    .description(
      'encrypt a tenant: a new data key wrapped by the current master key; its user messages, robot ' +
        'responses and session userMetadata are sealed before they reach the database from now on, and ' +
        'the stored ones in batches (online; run again to resume). Full-text search stops for it.',
    )
    .requiredOption('--tenant <tenant>', 'the tenant')
    .option(
      '--semantic-search',
      'allow semantic search: embeddings are computed from the plain text and leak its meaning',
    )
    .option('--no-semantic-search', 'forbid semantic search and delete the tenant’s embeddings (the default)')
    .option('--batch-size <n>', 'rows per batch (default 500)')
    .option('--json', 'print the result as JSON')
    .action(
      resealAction('encrypt', (encryption, flags, options) =>
        encryption.enable({ semanticSearch: flags.semanticSearch, ...options }),
      ),
    )

  encryption
    .command('rotate')
    .description(
      'rotate a tenant’s keys. --master-only: rewrap its data keys with the current (first) master key, ' +
        'at once (list the old key after it until every tenant is rewrapped). Without: a new data key, and ' +
        'the stored rows sealed again with it in batches (online; run again to resume).',
    )
    .requiredOption('--tenant <tenant>', 'the tenant')
    .option('--master-only', 'only rewrap the data keys with the current master key')
    .option('--batch-size <n>', 'rows per batch (default 500)')
    .option('--json', 'print the result as JSON')
    .action(
      resealAction('re-encrypt', (encryption, flags, options) =>
        encryption.rotate({ masterOnly: flags.masterOnly === true, ...options }),
      ),
    )

  encryption
    .command('shred')
    .description(
      'crypto-shred a tenant: destroy its data keys, so its messages and userMetadata can never be read ' +
        'again, in the database and in backups, branches and archives; recorded in the audit log. ' +
        'Irreversible: needs --yes.',
    )
    .requiredOption('--tenant <tenant>', 'the tenant')
    .option('--yes', 'confirm: the tenant’s content becomes unreadable for good')
    .option('--json', 'print the result as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals() as EncryptionFlags
      if (!flags.yes)
        throw new UsageError('shred destroys the tenant’s data keys for good: add --yes to confirm')
      await withStore(flags, async (store) => {
        const status = await store
          .as('cli')
          .tenant(flags.tenant as string)
          .encryption.shred()
        if (flags.json) return printJson(status)
        console.log(`shredded: ${describe(status)}`)
      })
    })

  encryption
    .command('status')
    .description('each encrypted tenant’s state, data keys (never their bytes) and unfinished re-encryption')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--json', 'print the result as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals() as EncryptionFlags
      await withStore(flags, async (store) => {
        const all = flags.tenant
          ? [await store.tenant(flags.tenant).encryption.status()]
          : await encryptedTenants(store.transport.owner)
        if (flags.json) return printJson(all)
        if (all.length === 0) console.log('no tenant is encrypted')
        for (const s of all) console.log(describe(s))
      })
    })
}
