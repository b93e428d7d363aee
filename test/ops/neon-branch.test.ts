// `branch` on Neon: the real command line and the official client against a local HTTP server that
// answers the endpoints used with the shapes of Neon's published API (the client's own types). The
// server checks the API key and records each request, so the test sees what Neon would be asked.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type {
  Branch,
  BranchCreateRequest,
  BranchesResponse,
  BranchOperations,
  BranchResponse,
  BranchState,
  ConnectionURIResponse,
  CursorPaginationResponse,
  Endpoint,
  EndpointPoolerMode,
  EndpointState,
  EndpointsResponse,
  EndpointType,
  GeneralError,
  Operation,
  OperationAction,
  OperationStatus,
  OperationsResponse,
} from '@neondatabase/api-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, cli, ensureBuilt, json } from '../cli/cli.js'

const KEY = 'neon-api-key-do-not-print-0123'
const PROJECT = 'shiny-project-123456'
const NOW = '2026-11-30T12:00:00Z'

function branch(id: string, name: string, extra: Partial<Branch> = {}): Branch {
  return {
    id,
    project_id: PROJECT,
    name,
    current_state: 'ready' as BranchState,
    state_changed_at: NOW,
    creation_source: 'console',
    default: false,
    protected: false,
    cpu_used_sec: 0,
    compute_time_seconds: 0,
    active_time_seconds: 0,
    written_data_bytes: 0,
    data_transfer_bytes: 0,
    created_at: NOW,
    updated_at: NOW,
    ...extra,
  }
}

function endpoint(id: string, branchId: string): Endpoint {
  return {
    host: `${id}.us-east-2.aws.neon.tech`,
    id,
    project_id: PROJECT,
    branch_id: branchId,
    autoscaling_limit_min_cu: 0.25,
    autoscaling_limit_max_cu: 2,
    region_id: 'aws-us-east-2',
    type: 'read_write' as EndpointType,
    current_state: 'idle' as EndpointState,
    settings: {},
    pooler_enabled: true,
    pooler_mode: 'transaction' as EndpointPoolerMode,
    disabled: false,
    passwordless_access: false,
    creation_source: 'console',
    created_at: NOW,
    updated_at: NOW,
    proxy_host: 'us-east-2.aws.neon.tech',
    suspend_timeout_seconds: 0,
    provisioner: 'k8s-neonvm',
  }
}

function operation(branchId: string, action: string): Operation {
  return {
    id: `op-${action}-${branchId}`,
    project_id: PROJECT,
    branch_id: branchId,
    action: action as OperationAction,
    status: 'finished' as OperationStatus,
    failures_count: 0,
    created_at: NOW,
    updated_at: NOW,
    total_duration_ms: 1,
  }
}

interface Seen {
  method: string
  path: string
  query: URLSearchParams
  body: unknown
}

/** The Neon API endpoints `branch` uses, over an in-memory project with a default branch `main`. */
function fakeNeon() {
  const branches: Branch[] = [branch('br-main-1', 'main', { default: true, primary: true })]
  const endpoints: Endpoint[] = [endpoint('ep-source-123456', 'br-main-1')]
  const seen: Seen[] = []
  const server = http.createServer(async (req, res) => {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const url = new URL(req.url ?? '/', 'http://x')
    seen.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      body: raw ? JSON.parse(raw) : null,
    })
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.headers.authorization !== `Bearer ${KEY}`) {
      return send(401, { code: '', message: 'authentication failed' } satisfies GeneralError)
    }
    const base = `/projects/${PROJECT}`
    if (req.method === 'GET' && url.pathname === `${base}/endpoints`) {
      return send(200, { endpoints } satisfies EndpointsResponse)
    }
    if (req.method === 'GET' && url.pathname === `${base}/branches`) {
      return send(200, { branches, pagination: {} } satisfies BranchesResponse & CursorPaginationResponse)
    }
    if (req.method === 'POST' && url.pathname === `${base}/branches`) {
      const body = JSON.parse(raw) as BranchCreateRequest
      const id = `br-${body.branch?.name}-${branches.length}`
      const created = branch(id, body.branch?.name ?? id, {
        parent_id: body.branch?.parent_id ?? 'br-main-1',
        ...(body.branch?.parent_timestamp ? { parent_timestamp: body.branch.parent_timestamp } : {}),
        current_state: 'init' as BranchState,
      })
      branches.push(created)
      const ep = endpoint(`ep-${body.branch?.name}-654321`, id)
      endpoints.push(ep)
      return send(201, {
        branch: created,
        endpoints: [ep],
        operations: [operation(id, 'create_branch'), operation(id, 'start_compute')],
        roles: [],
        databases: [],
      } satisfies BranchResponse & EndpointsResponse & OperationsResponse & Record<'roles' | 'databases', []>)
    }
    if (req.method === 'GET' && url.pathname === `${base}/connection_uri`) {
      const ep = endpoints.find((e) => e.branch_id === url.searchParams.get('branch_id'))
      if (!ep) return send(404, { code: '', message: 'branch not found' } satisfies GeneralError)
      const host =
        url.searchParams.get('pooled') === 'true' ? ep.host.replace(ep.id, `${ep.id}-pooler`) : ep.host
      const uri = `postgresql://${url.searchParams.get('role_name')}:branch-pw@${host}/${url.searchParams.get('database_name')}?sslmode=require&channel_binding=require`
      return send(200, { uri } satisfies ConnectionURIResponse)
    }
    const del = new RegExp(`^${base}/branches/([^/]+)$`).exec(url.pathname)
    if (req.method === 'DELETE' && del) {
      const i = branches.findIndex((b) => b.id === del[1])
      if (i < 0) return send(404, { code: '', message: 'branch not found' } satisfies GeneralError)
      const [gone] = branches.splice(i, 1)
      return send(200, {
        branch: gone as Branch,
        operations: [operation(gone?.id ?? '', 'suspend_compute')],
      } satisfies BranchOperations)
    }
    send(404, { code: '', message: `no route ${req.method} ${url.pathname}` } satisfies GeneralError)
  })
  return { server, seen, branches }
}

describe.runIf(backend === 'pglite')('branch on Neon, through the Neon API client', () => {
  const neon = fakeNeon()
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    await new Promise<void>((resolve) => neon.server.listen(0, '127.0.0.1', resolve))
    env = {
      DATABASE_URL:
        'postgresql://neondb_owner:source-pw@ep-source-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require',
      NEON_API_KEY: KEY,
      NEON_PROJECT_ID: PROJECT,
      NEON_API_URL: `http://127.0.0.1:${(neon.server.address() as AddressInfo).port}`,
    }
  }, 300_000)
  afterAll(async () => {
    await new Promise((resolve) => neon.server.close(resolve))
  })

  it('create --at: a branch of the URL’s branch at that time; prints the pooled and direct URLs', async () => {
    const r = await cli(['branch', 'create', 'before-incident', '--at', '2026-11-30T09:00:00Z'], env)
    expect(r.code, r.stderr).toBe(0)
    const post = neon.seen.find((s) => s.method === 'POST')
    expect(post?.body).toEqual({
      branch: { name: 'before-incident', parent_id: 'br-main-1', parent_timestamp: '2026-11-30T09:00:00Z' },
      endpoints: [{ type: 'read_write' }],
    })
    expect(r.stdout).toMatch(
      /^branch "before-incident" created from br-main-1 as it was at 2026-11-30T09:00:00Z$/m,
    )
    expect(r.stdout).toContain(
      'DATABASE_URL=postgresql://neondb_owner:branch-pw@ep-before-incident-654321-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require',
    )
    expect(r.stdout).toContain(
      'DATABASE_URL_UNPOOLED=postgresql://neondb_owner:branch-pw@ep-before-incident-654321.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require',
    )
    const uris = neon.seen.filter((s) => s.path.endsWith('/connection_uri'))
    expect(uris.map((s) => [s.query.get('database_name'), s.query.get('role_name')])).toEqual([
      ['neondb', 'neondb_owner'],
      ['neondb', 'neondb_owner'],
    ])
    expect(r.stdout + r.stderr).not.toContain(KEY)
  })

  it('lists the project’s branches, URLs without passwords', async () => {
    const list = json<Array<{ name: string; at?: string; source: string }>>(
      await cli(['branch', 'list', '--json'], env),
    )
    expect(list.map((b) => b.name)).toEqual(['main', 'before-incident'])
    expect(list[1]?.at).toBe('2026-11-30T09:00:00Z')
    expect(list[1]?.source).toBe('br-main-1')
  })

  it('refuses a taken name, a future --at, and deleting the default branch', async () => {
    const posts = neon.seen.filter((s) => s.method === 'POST').length
    expect((await cli(['branch', 'create', 'before-incident'], env)).stderr).toMatch(/exists already/)
    expect((await cli(['branch', 'create', 'later', '--at', '2999-01-01T00:00:00Z'], env)).stderr).toMatch(
      /--at is in the future/,
    )
    expect((await cli(['branch', 'create', 'later', '--at', 'yesterday'], env)).stderr).toMatch(
      /--at must be an ISO 8601 timestamp/,
    )
    expect(neon.seen.filter((s) => s.method === 'POST').length).toBe(posts)
    const main = await cli(['branch', 'delete', 'main'], env)
    expect(main.code).toBe(1)
    expect(main.stderr).toMatch(/default branch: left alone/)
    expect(neon.seen.some((s) => s.method === 'DELETE')).toBe(false)
  })

  it('deletes a branch it made', async () => {
    const r = await cli(['branch', 'delete', 'before-incident'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(neon.seen.filter((s) => s.method === 'DELETE').map((s) => s.path)).toEqual([
      `/projects/${PROJECT}/branches/br-before-incident-1`,
    ])
    expect(neon.branches.map((b) => b.name)).toEqual(['main'])
  })

  it('API errors are reported without the key; a Neon URL without a key says what to set', async () => {
    const bad = await cli(['branch', 'list'], { ...env, NEON_API_KEY: 'wrong-key-0123456789' })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/Neon API: list branches failed with 401: authentication failed/)
    expect(bad.stderr).not.toContain('wrong-key-0123456789')
    const none = await cli(['branch', 'list'], { DATABASE_URL: env.DATABASE_URL as string })
    expect(none.code).toBe(1)
    expect(none.stderr).toMatch(/set NEON_API_KEY .* and NEON_PROJECT_ID/)
  })
})
