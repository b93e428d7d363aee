// Types for build.mjs.
export const ROOT: string
export function staleReason(): string | null
export function assertBuilt(): void
export function ensureBuilt(): Promise<void>
