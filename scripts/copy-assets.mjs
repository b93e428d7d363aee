// Copies what the compiled code reads from disk next to it, so dist/ is self-contained: the numbered
// SQL migrations, and the dashboard's static files (served by `serve` at /).
import { cpSync, mkdirSync } from 'node:fs'

mkdirSync('dist/migrations', { recursive: true })
cpSync('src/migrations', 'dist/migrations', { recursive: true, filter: (p) => !p.endsWith('.ts') })
mkdirSync('dist/dashboard', { recursive: true })
cpSync('src/dashboard', 'dist/dashboard', { recursive: true })
