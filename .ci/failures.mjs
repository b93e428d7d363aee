// Reads a vitest JSON report and prints what failed, for CI's summary: a flaky test on one backend must
// be named in the last lines of the log, which is often all that is kept of a run.
//   node .ci/failures.mjs REPORT.json names  -> one line per failed test: "file > test name"
//   node .ci/failures.mjs REPORT.json files  -> the failed test files, one per line (for a rerun)
// A report that is missing or unreadable (vitest crashed before writing it) prints nothing for files
// and one line saying so for names: the backend still counts as failed.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'

const [report, what] = process.argv.slice(2)
let results
try {
  results = JSON.parse(readFileSync(report, 'utf8')).testResults ?? []
} catch {
  if (what === 'names')
    console.log(`(no test report at ${relative(process.cwd(), report)}: vitest did not finish)`)
  process.exit(0)
}

for (const file of results) {
  const name = relative(process.cwd(), file.name)
  const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed')
  // A file can fail with no failed test: an error in a hook or at import time.
  if (failedTests.length === 0 && file.status !== 'failed') continue
  if (what === 'files') {
    console.log(name)
    continue
  }
  if (failedTests.length === 0) {
    console.log(`${name}: ${firstLine(file.message) || 'failed outside any test'}`)
  }
  for (const t of failedTests) {
    console.log(`${name} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`)
  }
}

function firstLine(text) {
  return String(text ?? '')
    .split('\n')[0]
    .slice(0, 300)
}
