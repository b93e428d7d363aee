#!/usr/bin/env node
// The robot-brain-db command: a thin shell over the compiled library (npm run build makes dist/).
import { main } from '../dist/cli/index.js'

main(process.argv).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    console.error(err?.message ?? err)
    process.exitCode = 1
  },
)
