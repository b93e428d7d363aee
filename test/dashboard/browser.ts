/// <reference lib="dom" />
// The browser of the dashboard tests: Debian's chromium (`apt-get install chromium`; .ci/run installs
// it) driven by playwright-core, and where screenshots go.
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

/** The browser binary: ROBOT_BRAIN_TEST_CHROMIUM, else Debian's. */
export const CHROMIUM = process.env.ROBOT_BRAIN_TEST_CHROMIUM ?? '/usr/bin/chromium'

/** Screenshots go here: ROBOT_BRAIN_TEST_ARTIFACTS, else test-artifacts/ (git-ignored). */
export const ARTIFACTS = resolve(process.env.ROBOT_BRAIN_TEST_ARTIFACTS ?? 'test-artifacts')

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set ROBOT_BRAIN_TEST_CHROMIUM`,
    )
  }
  // No sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
}

/** What went wrong in a page: console errors, uncaught exceptions, CSP violations. */
export interface PageProblems {
  console: string[]
  exceptions: string[]
  csp: string[]
}

/** A page of `context` that records its problems (the CSP ones through a binding). */
export async function watchedPage(context: BrowserContext): Promise<{ page: Page; problems: PageProblems }> {
  const problems: PageProblems = { console: [], exceptions: [], csp: [] }
  const page = await context.newPage()
  page.on('console', (message) => {
    if (message.type() === 'error') problems.console.push(message.text())
  })
  page.on('pageerror', (error) => problems.exceptions.push(error.message))
  await page.exposeBinding('reportCspViolation', (_source, text: string) => problems.csp.push(text))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { reportCspViolation: (s: string) => void }).reportCspViolation
      report(`${event.violatedDirective} ${event.blockedURI}`)
    })
  })
  return { page, problems }
}

/** Saves a full-page screenshot as `<name>.png` under ARTIFACTS; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}
