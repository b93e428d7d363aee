// Stand-ins for Node's own types (NodeJS.*, node:util) in the public API, so the published
// declarations type-check in a project without @types/node ("types": [] is what `tsc --init`
// writes, and TypeScript 6 makes it the default).

/** An environment: process.env or any plain object of strings. */
export type Env = Readonly<Record<string, string | undefined>>

/** A signal name such as 'SIGTERM' (what process.on accepts). */
export type SignalName = `SIG${string}`

/** util.inspect.custom: Node registers it under this well-known name. */
export const INSPECT_CUSTOM: unique symbol = Symbol.for('nodejs.util.inspect.custom')
