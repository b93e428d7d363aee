// Analytics: real-time rollups, duration sketches and the queries over them.

export type * from './analytics.js'
export { Analytics, type AnalyticsDeps } from './analytics.js'
export type * from './interactions.js'
export type * from './personalities.js'
export type { Bucket, RangeInput } from './range.js'
