// GET /: the dashboard, static files (src/dashboard, copied to dist/dashboard by the build) plus the
// charting library's files from its npm package. The page reads the same API as any client, with a
// key kept in the tab's sessionStorage only, writes nothing, and builds the DOM with textContent, so no
// stored text can run as HTML. Its CSP allows scripts and styles from this origin only: no inline
// code, no eval.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { errorBody } from './errors.js'

/** The dashboard's own files: a fixed list, so no request path ever reaches the file system. */
const OWN_FILES = [
  'index.html',
  'style.css',
  'app.js',
  'api.js',
  'dom.js',
  'format.js',
  'router.js',
  'personalities.js',
  'prometheus.js',
  'overview.js',
  'sessions.js',
  'search.js',
  'analytics.js',
  'charts.js',
]

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
}

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ')

interface Asset {
  body: Buffer
  type: string
}

function typeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream'
}

/** Read once at start: a handful of small files, and a missing one fails at start, not per request. */
function loadAssets(version: string): Map<string, Asset> {
  const own = fileURLToPath(new URL('../dashboard/', import.meta.url))
  const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'))
  const assets = new Map<string, Asset>()
  for (const name of OWN_FILES) {
    let body = readFileSync(join(own, name))
    if (name === 'index.html') {
      body = Buffer.from(
        body.toString('utf8').replace('{{version}}', version.replace(/[^0-9A-Za-z.+-]/g, '')),
      )
    }
    assets.set(name, { body, type: typeOf(name) })
  }
  for (const name of ['uPlot.esm.js', 'uPlot.min.css']) {
    assets.set(`vendor/${name}`, { body: readFileSync(join(uplot, 'dist', name)), type: typeOf(name) })
  }
  return assets
}

export function dashboardRoute(app: FastifyInstance, version: string): void {
  const assets = loadAssets(version)
  const index = assets.get('index.html') as Asset
  app.get(
    '/',
    { schema: { summary: 'Dashboard (HTML)', tags: ['operations'], produces: ['text/html'] } },
    async (_request, reply) =>
      reply
        .header('content-security-policy', DASHBOARD_CSP)
        .header('cache-control', 'no-cache')
        .type(index.type)
        .send(index.body),
  )
  app.get<{ Params: { '*': string } }>('/dashboard/*', { schema: { hide: true } }, async (request, reply) => {
    const asset = assets.get(request.params['*'])
    if (!asset || request.params['*'] === 'index.html') {
      return reply.code(404).send(errorBody('not_found', 'no such dashboard file'))
    }
    // Revalidated on each load (no-cache): the files change with the package version.
    return reply.header('cache-control', 'no-cache').type(asset.type).send(asset.body)
  })
}
