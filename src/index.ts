// robot-brain-db: the library entry point.

export type * from './analytics/index.js'
export { Analytics } from './analytics/index.js'
export type { Config, Driver, GroupCommitOptions, RetryOptions, StoreOptions } from './config.js'
export { optionsFromEnv, redactedConfig, resolveConfig } from './config.js'
export type { CallerPool } from './db/caller-pool.js'
export { loadMigrations, type MigrateResult, type MigrationState } from './db/migrate.js'
export type { ReplicaState } from './db/read-routing.js'
export { backoffDelay, isRetryable, type RetryReason, retryReason, withRetry } from './db/retry.js'
export type { PoolErrorListener } from './db/server-transport.js'
export * from './errors.js'
export type { Env, SignalName } from './portable-types.js'
export type { Embedder } from './search/embedders/embedder.js'
export { BUILTIN_MODEL, BuiltinEmbedder, embedderFromEnv, OpenAiEmbedder } from './search/embedders/index.js'
export type { OpenAiEmbedderOptions } from './search/embedders/openai.js'
export type * from './search/types.js'
export { VectorUnavailableError } from './search/vector-index.js'
export {
  ContentShreddedError,
  ContentUnreadableError,
  EncryptionKeyError,
} from './security/encryption/errors.js'
export type {
  DataKeyInfo,
  EnableOptions,
  EncryptionStatus,
  ResealResult,
  RotateOptions,
  TenantEncryption,
} from './security/encryption/tenant-encryption.js'
export { newId } from './store/ids.js'
export {
  BufferFullError,
  InteractionBuffer,
  type InteractionBufferOptions,
  type InteractionBufferStats,
  type InteractionSink,
} from './store/interaction-buffer.js'
export { LIMITS } from './store/limits.js'
export { DEFAULT_TENANT, type OpenStoreOptions, openStore, Store } from './store/store.js'
export { estimateMessageTokens, estimateTokens, MESSAGE_OVERHEAD_TOKENS } from './store/tokens.js'
export type * from './store/types.js'
