// Request validation with Ajv, strict about bodies: no type coercion ("5" is not a number) and no
// silent removal of unknown fields (Fastify's defaults do both) — an unknown field is a 400 that
// names it. Query strings and path parameters arrive as text, so there numbers are coerced.
import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    // Descriptive keywords of OpenAPI that Ajv does not know.
    keywords: ['example'],
    ...options,
  })
  addFormats(ajv)
  return ajv
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = makeAjv({ coerceTypes: false })
  const coercing = makeAjv({ coerceTypes: true })
  return ({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<
      FastifySchemaCompiler<unknown>
    >
}
