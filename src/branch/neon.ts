// Branches on Neon, through the Neon API with its official client (@neondatabase/api-client, loaded only
// here). A branch shares the parent's storage copy-on-write: creating one is instant, needs no pause of
// the source's clients, and with `at` it shows the parent as it was at that time (Neon's point-in-time
// restore, within the project's history window). The parent is the branch of the endpoint the direct URL
// names (or the project's default branch), and it is never deleted by this command.
import type { Api, Branch, EndpointType } from '@neondatabase/api-client'
import { parseUrl } from '../db/urls.js'
import { BranchError, type Brancher, type BranchInfo, checkBranchName } from './types.js'

export interface NeonBranchOptions {
  apiKey: string
  projectId: string
  /** The source's direct URL: its endpoint gives the parent branch; its database and role the new URLs. */
  directUrl: string
  /** Whether the app's URL is pooled (then the printed URL is the pooled one too). */
  pooled: boolean
  /** The API's base URL (NEON_API_URL; default Neon's own). */
  apiUrl?: string
}

/** The API's error, without the request (its headers carry the API key). */
function apiError(what: string, err: unknown): Error {
  const e = err as { response?: { status?: number; data?: { message?: string } }; message?: string }
  if (e.response) {
    return new BranchError(
      `Neon API: ${what} failed with ${e.response.status}: ${e.response.data?.message ?? 'no message'}`,
    )
  }
  return new BranchError(`Neon API: ${what} failed: ${e.message ?? String(err)}`)
}

export class NeonBrancher implements Brancher {
  private api?: Api<unknown>
  private readonly database: string
  private readonly role: string
  private readonly endpointId: string | undefined

  constructor(private readonly options: NeonBranchOptions) {
    const u = parseUrl(options.directUrl)
    this.database = decodeURIComponent(u.pathname.slice(1)) || 'neondb'
    this.role = decodeURIComponent(u.username)
    this.endpointId = /^(ep-[a-z0-9-]+?)(-pooler)?(\.|$)/.exec(u.hostname)?.[1]
  }

  private async client(): Promise<Api<unknown>> {
    if (!this.api) {
      const { createApiClient } = await import('@neondatabase/api-client')
      this.api = createApiClient({
        apiKey: this.options.apiKey,
        timeout: 60_000,
        ...(this.options.apiUrl ? { baseURL: this.options.apiUrl } : {}),
      })
    }
    return this.api
  }

  private async call<T>(what: string, fn: (api: Api<unknown>) => Promise<{ data: T }>): Promise<T> {
    const api = await this.client()
    try {
      return (await fn(api)).data
    } catch (err) {
      throw apiError(what, err)
    }
  }

  /** The branch of the source's endpoint, when the URL names one of this project. */
  private async parentId(): Promise<string | undefined> {
    if (!this.endpointId) return undefined
    const { endpoints } = await this.call('list endpoints', (api) =>
      api.listProjectEndpoints(this.options.projectId),
    )
    return endpoints.find((e) => e.id === this.endpointId)?.branch_id
  }

  private async branches(): Promise<Branch[]> {
    const out: Branch[] = []
    let cursor: string | undefined
    for (;;) {
      const page = await this.call('list branches', (api) =>
        api.listProjectBranches({ projectId: this.options.projectId, ...(cursor ? { cursor } : {}) }),
      )
      out.push(...page.branches)
      cursor = page.pagination?.next
      if (!cursor || page.branches.length === 0) return out
    }
  }

  private async uri(branchId: string, pooled: boolean): Promise<string> {
    const { uri } = await this.call('get connection URI', (api) =>
      api.getConnectionUri({
        projectId: this.options.projectId,
        branch_id: branchId,
        database_name: this.database,
        role_name: this.role,
        pooled,
      }),
    )
    return uri
  }

  private info(b: Branch, urls?: { url: string; directUrl?: string }): BranchInfo {
    return {
      name: b.name,
      kind: 'neon',
      ...urls,
      source: b.parent_id ?? '',
      createdAt: b.created_at,
      ...(b.parent_timestamp ? { at: b.parent_timestamp } : {}),
    }
  }

  async create(name: string, options: { at?: string } = {}): Promise<BranchInfo> {
    checkBranchName(name)
    let at: string | undefined
    if (options.at !== undefined) {
      const ms = Date.parse(options.at)
      if (Number.isNaN(ms)) throw new BranchError(`--at must be an ISO 8601 timestamp, got "${options.at}"`)
      if (ms > Date.now()) throw new BranchError('--at is in the future')
      at = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
    }
    if ((await this.branches()).some((b) => b.name === name)) {
      throw new BranchError(`a branch named "${name}" exists already`)
    }
    const parentId = await this.parentId()
    const created = await this.call('create branch', (api) =>
      api.createProjectBranch(this.options.projectId, {
        branch: {
          name,
          ...(parentId ? { parent_id: parentId } : {}),
          ...(at ? { parent_timestamp: at } : {}),
        },
        endpoints: [{ type: 'read_write' as EndpointType }],
      }),
    )
    const direct = await this.uri(created.branch.id, false)
    const url = this.options.pooled ? await this.uri(created.branch.id, true) : direct
    return this.info(created.branch, { url, ...(url !== direct ? { directUrl: direct } : {}) })
  }

  async list(): Promise<BranchInfo[]> {
    return (await this.branches()).map((b) => this.info(b))
  }

  async delete(name: string): Promise<void> {
    checkBranchName(name)
    const branch = (await this.branches()).find((b) => b.name === name)
    if (!branch) throw new BranchError(`no branch named "${name}" in project ${this.options.projectId}`)
    if (branch.default) throw new BranchError(`"${name}" is the project's default branch: left alone`)
    if (branch.id === (await this.parentId())) {
      throw new BranchError(`"${name}" is the branch DATABASE_URL points at (the source): left alone`)
    }
    await this.call('delete branch', (api) =>
      api.deleteProjectBranch({ projectId: this.options.projectId, branchId: branch.id }),
    )
  }
}
