// Which kind of branch a configuration gets: the embedded database's directory, a Neon branch (with an
// API key and project), or a database copy on any other PostgreSQL.
import { type Config, type NeonApiSettings, neonApiFromEnv } from '../config.js'
import { parseUrl } from '../db/urls.js'
import { EmbeddedBrancher } from './embedded.js'
import { NeonBrancher } from './neon.js'
import { PostgresBrancher } from './postgres.js'
import { BranchError, type Brancher } from './types.js'

export type { Brancher, BranchInfo } from './types.js'
export { BranchError } from './types.js'

const isNeonHost = (url: string) => /\.neon\.(tech|build)$/.test(parseUrl(url).hostname)

export function brancherFor(config: Config, neon: NeonApiSettings = neonApiFromEnv()): Brancher {
  if (config.driver === 'pglite') return new EmbeddedBrancher(config.dataDir)
  const directUrl = config.directUrl ?? config.url
  const appUrl = config.url ?? directUrl
  if (!directUrl || !appUrl) throw new BranchError('no database URL: set DATABASE_URL')
  if (neon.apiKey || neon.projectId) {
    if (!neon.apiKey) throw new BranchError('NEON_PROJECT_ID is set but NEON_API_KEY is not: both are needed')
    if (!neon.projectId)
      throw new BranchError('NEON_API_KEY is set but NEON_PROJECT_ID is not: both are needed')
    return new NeonBrancher({
      apiKey: neon.apiKey,
      projectId: neon.projectId,
      directUrl,
      pooled: config.pooled,
      apiUrl: neon.apiUrl,
    })
  }
  if (isNeonHost(directUrl)) {
    throw new BranchError(
      'branches of a Neon database go through the Neon API: set NEON_API_KEY (an API key of the account) and NEON_PROJECT_ID (Settings of the project)',
    )
  }
  return new PostgresBrancher(directUrl, appUrl)
}
