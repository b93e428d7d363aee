// Preloaded into a command the lifecycle suite runs (node --import): at exit, writes the process's
// peak resident set size to the file ROBOT_BRAIN_BENCH_RSS_FILE names. The suite measures the
// process that does the work, not itself.
import { writeFileSync } from 'node:fs'

const file = process.env.ROBOT_BRAIN_BENCH_RSS_FILE
if (file) {
  process.on('exit', () => {
    // resourceUsage().maxRSS is in kilobytes.
    writeFileSync(file, JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024 }))
  })
}
