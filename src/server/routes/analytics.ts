// GET /v1/analytics/*: statistics per personality and per robot or interaction type, answered from
// the real-time rollups (exact the moment a write is acknowledged).
import type { FastifyInstance } from 'fastify'
import {
  InteractionAnalytics,
  InteractionAnalyticsQuery,
  PersonalityAnalytics,
  PersonalityAnalyticsQuery,
} from '../analytics-schemas.js'
import { errorResponses } from '../schemas.js'

export function analyticsRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: PersonalityAnalyticsQuery }>(
    '/analytics/personalities',
    {
      schema: {
        summary: 'Statistics per robot personality',
        description:
          'Per personality: turns, distinct sessions, average user message and response length, over ' +
          '[from, to) and optionally per bucket (UTC).',
        tags: ['analytics'],
        security: [{ bearerAuth: [] }],
        querystring: PersonalityAnalyticsQuery,
        response: { 200: PersonalityAnalytics, ...errorResponses() },
      },
    },
    async (request) => request.tenantStore.analytics.personalities(request.query),
  )
  app.get<{ Querystring: InteractionAnalyticsQuery }>(
    '/analytics/interactions',
    {
      schema: {
        summary: 'Interaction statistics by robot or by interaction type',
        description:
          'Per robotId or interactionType: count, successes, success rate, duration avg/p50/p95/p99/max ' +
          'over [from, to), optionally per bucket (UTC), and optionally the latest failures.',
        tags: ['analytics'],
        security: [{ bearerAuth: [] }],
        querystring: InteractionAnalyticsQuery,
        response: { 200: InteractionAnalytics, ...errorResponses() },
      },
    },
    async (request) => request.tenantStore.analytics.interactions(request.query),
  )
}
