// robot-brain-db migrate [--status] [--dry-run] [--json]
import type { Command } from 'commander'
import { adoptionAdvice } from '../db/runtime-role.js'
import { type DbFlags, printJson, withStore } from './common.js'

export function register(program: Command): void {
  program
    .command('migrate')
    .description('apply pending schema migrations (on the direct URL, as the owner)')
    .option('--status', 'list migrations and whether each is applied; change nothing')
    .option('--dry-run', 'print the SQL of pending migrations; change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: DbFlags & { status?: boolean; dryRun?: boolean; json?: boolean }) => {
      await withStore(opts, async (store) => {
        if (opts.status) {
          const states = await store.migrationStatus()
          if (opts.json) return printJson(states)
          for (const s of states)
            console.log(`${s.status.padEnd(8)} ${s.name}${s.appliedAt ? `  ${s.appliedAt}` : ''}`)
          return
        }
        const result = await store.migrate({ dryRun: opts.dryRun })
        if (opts.json) {
          return printJson({
            dryRun: result.dryRun,
            applied: result.applied.map((m) => m.name),
            pending: result.pending.map((m) => ({ name: m.name, sql: opts.dryRun ? m.sql : undefined })),
            role: result.role,
            advice: result.role ? adoptionAdvice(result.role) : [],
          })
        }
        if (opts.dryRun) {
          if (result.pending.length === 0) console.log('-- nothing to apply: the schema is current')
          for (const m of result.pending) console.log(`-- ${m.name}\nBEGIN;\n${m.sql}\nCOMMIT;\n`)
          const role = await store.runtimeRoleName()
          console.log(`-- then, this database's runtime role takes over what robot_brain_app holds here:`)
          console.log(`SELECT robot_brain.adopt_runtime_role('${role}');`)
          return
        }
        if (result.applied.length === 0) console.log('nothing to apply: the schema is current')
        for (const m of result.applied) console.log(`applied ${m.name}`)
        const role = result.role
        if (!role) return
        console.log(`runtime role: ${role.role} (the app's login role must be a member of it)`)
        if (role.movedFrom.length > 0)
          console.log(`moved the privileges of ${role.movedFrom.join(', ')} to ${role.role}`)
        for (const login of role.granted)
          console.log(`made "${login}" (the DATABASE_URL login) a member of ${role.role}`)
        for (const line of adoptionAdvice(role)) console.error(`warning: ${line}`)
      })
    })
}
