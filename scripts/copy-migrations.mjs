// Copies the numbered SQL migrations next to the compiled code so dist/ is self-contained.
import { cpSync, mkdirSync } from 'node:fs'

mkdirSync('dist/migrations', { recursive: true })
cpSync('src/migrations', 'dist/migrations', { recursive: true, filter: (p) => !p.endsWith('.ts') })
