// Every error leaves the server as {"error": {"code", "message"}}: typed store errors by their own
// status and code, Fastify's (validation, body parsing, size) by fixed mappings, anything else as a
// bare 500 whose details go only to the log. Never a stack trace in a response.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { RobotBrainError, UnavailableError } from '../errors.js'
import { BufferFullError } from '../store/interaction-buffer.js'
import { LIMITS } from '../store/limits.js'
import { PATTERN_MESSAGES } from './schemas.js'

/** A route whose feature arrives in a later version. */
export class NotImplementedError extends RobotBrainError {
  constructor(message: string) {
    super('not_implemented', 501, message)
  }
}

/**
 * Too many heavy requests in flight (see concurrency.ts): 429 when the tenant holds its whole share,
 * 503 when the server as a whole is busy. Both with Retry-After.
 */
export class TooBusyError extends RobotBrainError {
  readonly retryAfterSeconds: number
  constructor(status: 429 | 503, message: string, retryAfterSeconds = 1) {
    super(status === 429 ? 'too_many_requests' : 'busy', status, message)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** The request may not be served as it is: e.g. a foreign Host in keyless mode, /metrics without its token. */
export class ForbiddenError extends RobotBrainError {
  constructor(message: string) {
    super('forbidden', 403, message)
  }
}

/** No usable credentials for a /v1 route. */
export class UnauthorizedError extends RobotBrainError {
  constructor(message: string) {
    super('unauthorized', 401, message)
  }
}

export interface ErrorPayload {
  error: { code: string; message: string; turnId?: string }
}

export function errorBody(code: string, message: string): ErrorPayload {
  return { error: { code, message } }
}

interface AjvError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/** `/events/3/robotId` → `events[3].robotId`. */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '')
}

/** A validation failure as "body.userMessage: must ..." — the field first, then what is wrong with it. */
export function validationMessage(context: string, errors: AjvError[]): { field: string; message: string } {
  const e = errors[0]
  if (!e) return { field: context, message: `${context}: is invalid` }
  let path = fieldPath(e.instancePath)
  let problem = e.message ?? 'is invalid'
  if (e.keyword === 'required') {
    path = path ? `${path}.${e.params.missingProperty}` : String(e.params.missingProperty)
    problem = 'is required'
  } else if (e.keyword === 'additionalProperties') {
    path = path ? `${path}.${e.params.additionalProperty}` : String(e.params.additionalProperty)
    problem = 'is not a known field'
  } else if (e.keyword === 'pattern') {
    problem = PATTERN_MESSAGES[String(e.params.pattern)] ?? problem
  } else if (e.keyword === 'maxLength' || e.keyword === 'minLength') {
    problem = `must be ${e.keyword === 'maxLength' ? 'at most' : 'at least'} ${e.params.limit} characters`
  }
  const field = path ? `${context}.${path}` : context
  return { field, message: `${field}: ${problem}` }
}

/** Fastify's own errors, by code: status, our code, and a message for the client. */
const FASTIFY_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [
    413,
    'payload_too_large',
    `the request body is larger than ${LIMITS.bodyBytes} bytes`,
  ],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'invalid_json', 'the request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    400,
    'invalid_json',
    'the request body is empty; send a JSON object with Content-Type: application/json',
  ],
  // 415 tells a client to fix its Content-Type header, not the body it sends.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    415,
    'unsupported_media_type',
    'the request body must be JSON (Content-Type: application/json)',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'bad_request', 'Content-Length does not match the body'],
}

export function handleError(
  err: FastifyError & { validation?: AjvError[]; validationContext?: string },
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (err.validation) {
    const { message } = validationMessage(err.validationContext ?? 'request', err.validation)
    return reply.code(400).send(errorBody('validation_failed', message))
  }
  if (err instanceof RobotBrainError) {
    if (err instanceof UnavailableError || err instanceof TooBusyError) {
      reply.header('retry-after', String(err.retryAfterSeconds))
    }
    if (err instanceof UnauthorizedError) reply.header('www-authenticate', 'Bearer')
    const body = errorBody(err.code, clientMessage(err, request))
    // The id a client needs to resend a turn safely (the server may have made it).
    if (err instanceof UnavailableError && err.turnId) body.error.turnId = err.turnId
    return reply.code(err.status).send(body)
  }
  const known = err.code ? FASTIFY_ERRORS[err.code] : undefined
  if (known) return reply.code(known[0]).send(errorBody(known[1], known[2]))
  // JSON parse errors thrown by secure-json-parse (e.g. a "__proto__" key) carry status 400.
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send(errorBody('bad_request', err.message))
  }
  request.log.error({ err }, 'unexpected error')
  return reply
    .code(500)
    .send(errorBody('internal_error', `internal error; the server log has details (request ${request.id})`))
}

/**
 * What the client reads of a typed error, logging what it must not read. 4xx messages are about the
 * request and go back as they are. A 503 for the database (connection refused, host and port, a
 * proxy's words) and any other 5xx stay in the log: the client gets a generic sentence and the
 * request id to quote. A full buffer (503) and a route not built yet (501) are the client's lot, not
 * faults of the server: they are logged below error level, so alerts on error lines stay meaningful.
 */
function clientMessage(err: RobotBrainError, request: FastifyRequest): string {
  if (err.status < 500) return err.message
  if (err instanceof BufferFullError || err instanceof TooBusyError) {
    request.log.info({ code: err.code, reason: err.message }, 'request refused: server busy')
    return err.message
  }
  // A database without pgvector: the message says what to install, and carries no internals.
  if (err instanceof NotImplementedError || err.code === 'vector_extension_missing') {
    request.log.info({ code: err.code }, 'route not implemented')
    return err.message
  }
  request.log.error({ err }, 'request failed')
  if (err instanceof UnavailableError) {
    return `the service is temporarily unavailable; retry after ${err.retryAfterSeconds} s (request ${request.id})`
  }
  return `internal error; the server log has details (request ${request.id})`
}

export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .send(
      errorBody('not_found', `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`),
    )
}
