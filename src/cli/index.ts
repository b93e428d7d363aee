// The command line: one file per command, each registering itself on the program.
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { register as archive } from './archive.js'
import { register as audit } from './audit.js'
import { register as bench } from './bench.js'
import { register as branch } from './branch.js'
import { EXIT, errorMessage, UsageError } from './common.js'
import { register as doctor } from './doctor.js'
import { register as embed } from './embed.js'
import { register as encryption } from './encryption.js'
import { register as exportCommand } from './export.js'
import { register as importCommand } from './import.js'
import { register as keys } from './keys.js'
import { register as maintain } from './maintain.js'
import { register as migrate } from './migrate.js'
import { register as restore } from './restore.js'
import { register as seed } from './seed.js'
import { register as serve } from './serve.js'
import { register as status } from './status.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

const COMMANDS: Array<(program: Command) => void> = [
  migrate,
  maintain,
  serve,
  keys,
  status,
  doctor,
  seed,
  bench,
  embed,
  exportCommand,
  importCommand,
  archive,
  restore,
  audit,
  encryption,
  branch,
]

export function buildProgram(): Command {
  const program = new Command('robot-brain-db')
    .description(
      'Conversation memory and analytics database for AI chat robots.\n' +
        'Embedded PGlite by default; set DATABASE_URL for PostgreSQL or Neon.',
    )
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError()
  for (const register of COMMANDS) register(program)
  // Database flags on every command, except one that defines its own (bench reads no DATABASE_URL).
  for (const cmd of program.commands) {
    if (cmd.options.some((o) => o.long === '--url')) continue
    cmd
      .option('--url <url>', 'database URL (default: DATABASE_URL; none: embedded)')
      .option(
        '--data-dir <dir>',
        'embedded data directory (default: ROBOT_BRAIN_DATA_DIR or ./.robot-brain/data)',
      )
      .option('--driver <driver>', 'pg, neon or pglite (default: DATABASE_DRIVER, or pg with a URL)')
      .exitOverride()
  }
  return program
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    // A command that found a problem but finished (doctor, maintain) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK
      // Help asked for (`help`) exits 0; help shown because no command or sub-command was given is
      // a usage error (commander gives it exit code 1): exit 2.
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
      return EXIT.USAGE
    }
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`)
      return EXIT.USAGE
    }
    console.error(`error: ${errorMessage(err)}`)
    return EXIT.FAILURE
  }
}
