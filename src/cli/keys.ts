// robot-brain-db keys create|list|revoke: API keys of the HTTP service. Runs on the owner
// connection (the direct URL). A new key is printed once; only its SHA-256 hash is stored.
import type { Command } from 'commander'
import { ValidationError } from '../errors.js'
import { type ApiKeyInfo, KEY_SCOPES, type KeyScope, KeyStore } from '../keys/keys.js'
import { isUuid } from '../store/ids.js'
import { tenantId } from '../store/validate.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

interface KeyFlags extends DbFlags {
  json?: boolean
}

/** Parent options (--url, --data-dir, --driver) merged with the subcommand's own. */
function flags<T>(cmd: Command): T & KeyFlags {
  return cmd.optsWithGlobals() as T & KeyFlags
}

function row(k: ApiKeyInfo): string {
  const status = k.revokedAt ? `revoked ${k.revokedAt}` : 'active'
  return [
    k.id,
    k.tenant,
    k.scope,
    k.prefix,
    k.name || '-',
    k.createdAt,
    k.lastUsedAt ?? 'never',
    status,
  ].join('  ')
}

export function register(program: Command): void {
  const keys = program
    .command('keys')
    .description('manage API keys of the HTTP service (each key acts for one tenant)')

  keys
    .command('create')
    .description('create a key for a tenant; the key is printed once, only its hash is kept')
    .requiredOption('--tenant <tenant>', 'tenant the key acts for (letters, digits, ".", "_", "-")')
    .option(
      '--scope <scope>',
      'read (GET only), write (read and write) or admin (also users, audit and keys)',
      'write',
    )
    .option('--name <name>', 'a label to recognise the key by, e.g. "web app"', '')
    .option('--json', 'print the key and its record as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = flags<{ tenant: string; name: string; scope: string }>(cmd)
      if (!KEY_SCOPES.includes(opts.scope as KeyScope)) {
        throw new UsageError(`--scope must be one of ${KEY_SCOPES.join(', ')}, got "${opts.scope}"`)
      }
      // Checked before the database is opened: a usage error should not wait for a connection.
      let tenant: string
      try {
        tenant = tenantId(opts.tenant)
      } catch (err) {
        if (err instanceof ValidationError)
          throw new UsageError(`--tenant ${err.message.replace(/^tenant: /, '')}`)
        throw err
      }
      await withStore(opts, async (store) => {
        const created = await new KeyStore(store.transport.owner).create(tenant, opts.name, {
          scope: opts.scope as KeyScope,
        })
        if (opts.json) return printJson(created)
        console.error(
          `created ${created.scope} key ${created.id} for tenant "${created.tenant}". It is shown only now: store it in a secret manager.`,
        )
        console.log(created.key)
      })
    })

  keys
    .command('list')
    .description('list keys, newest first (never the keys themselves)')
    .option('--json', 'print the keys as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = flags<object>(cmd)
      await withStore(opts, async (store) => {
        const list = await new KeyStore(store.transport.owner).list()
        if (opts.json) return printJson(list)
        if (list.length === 0)
          return console.log('no API keys (create one with: robot-brain-db keys create --tenant <tenant>)')
        console.log(['id', 'tenant', 'scope', 'prefix', 'name', 'created', 'last used', 'status'].join('  '))
        for (const k of list) console.log(row(k))
      })
    })

  keys
    .command('revoke')
    .description('revoke a key by id; it stops working within a second')
    .argument('<id>', 'the key id (from keys list)')
    .option('--json', 'print the revoked key record as JSON')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const opts = flags<object>(cmd)
      // A malformed id is a usage error (exit 2), found before opening the database; an unknown one
      // is a failure (exit 1).
      if (!isUuid(id)) throw new UsageError(`<id> must be a key id (a UUID, as keys list shows), got "${id}"`)
      await withStore(opts, async (store) => {
        const { key, alreadyRevoked } = await new KeyStore(store.transport.owner).revoke(id)
        if (opts.json) return printJson({ ...key, alreadyRevoked })
        console.log(
          alreadyRevoked
            ? `key ${key.id} was already revoked at ${key.revokedAt}`
            : `revoked key ${key.id} (tenant "${key.tenant}")`,
        )
      })
    })
}
