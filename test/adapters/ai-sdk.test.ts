// robot-brain-db/ai-sdk with the `ai` package itself: the loadChat / saveChat persistence pattern of
// the AI SDK documentation, a streamed answer from its mock model saved in onFinish, and lists that
// its own validateUIMessages and convertToModelMessages accept after the round trip.
import { convertToModelMessages, streamText, type UIMessage, validateUIMessages } from 'ai'
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatPersistence } from '../../src/adapters/ai-sdk.js'
import { ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

/** A mock model that streams `text` in two pieces. */
function model(text: string) {
  const half = Math.ceil(text.length / 2)
  return new MockLanguageModelV3({
    doStream: async () => ({
      stream: simulateReadableStream({
        chunks: [
          { type: 'stream-start', warnings: [] },
          { type: 'text-start', id: 't' },
          { type: 'text-delta', id: 't', delta: text.slice(0, half) },
          { type: 'text-delta', id: 't', delta: text.slice(half) },
          { type: 'text-end', id: 't' },
          {
            type: 'finish',
            finishReason: { unified: 'stop', raw: 'stop' },
            usage: {
              inputTokens: { total: 5, noCache: 5, cacheRead: 0, cacheWrite: 0 },
              outputTokens: { total: 4, text: 4, reasoning: 0 },
            },
          },
        ],
      }),
    }),
  })
}

const user = (id: string, text: string): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] })

/** A rich list: a system message, a user message with a file, an assistant message with steps and a tool. */
function richChat(): UIMessage[] {
  return [
    { id: 'sys', role: 'system', parts: [{ type: 'text', text: 'You are a weather robot.' }] },
    {
      id: 'u1',
      role: 'user',
      metadata: { sentAt: '2026-11-30T10:00:00.000Z' },
      parts: [
        { type: 'text', text: 'Weather in Paris?' },
        { type: 'file', mediaType: 'image/png', url: 'https://example.com/sky.png', filename: 'sky.png' },
        { type: 'text', text: 'And is it cloudy?' },
      ],
    },
    {
      id: 'a1',
      role: 'assistant',
      metadata: { model: 'mock' },
      parts: [
        { type: 'step-start' },
        { type: 'reasoning', text: 'Look it up.', state: 'done' },
        {
          type: 'tool-weather',
          toolCallId: 'call-1',
          state: 'output-available',
          input: { city: 'Paris' },
          output: { celsius: 21, cloudy: true },
        },
        { type: 'step-start' },
        { type: 'text', text: 'It is 21 °C and cloudy.', state: 'done' },
        { type: 'data-forecast', id: 'f1', data: { tomorrow: 'sun' } },
      ],
    },
  ]
}

describe(`AI SDK chat persistence (${backend})`, () => {
  let t: TestStore
  let store: Store
  beforeAll(async () => {
    t = await openTestStore('adapter_ai_sdk')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('loadChat returns exactly what saveChat was given; the ai package accepts it', async () => {
    const { loadChat, saveChat } = chatPersistence(store)
    const messages = richChat()
    await saveChat({ chatId: 'rich', messages })
    const loaded = await loadChat('rich')
    expect(loaded).toEqual(messages)
    expect(await validateUIMessages({ messages: loaded })).toEqual(messages)
    expect(await convertToModelMessages(loaded)).toEqual(await convertToModelMessages(messages))
    // The turns hold the readable text for search, context and analytics.
    const { turns } = await store.history('rich', { limit: 10, order: 'asc' })
    expect(turns.map((x) => [x.userMessage, x.robotResponse, x.robotPersonality])).toEqual([
      ['You are a weather robot.', null, 'assistant'],
      ['Weather in Paris?\n\nAnd is it cloudy?', 'It is 21 °C and cloudy.', 'assistant'],
    ])
  })

  it('saving the same list again stores nothing new', async () => {
    const { saveChat } = chatPersistence(store)
    const messages = richChat()
    await saveChat({ chatId: 'twice', messages })
    const before = await store.history('twice', { limit: 10 })
    await saveChat({ chatId: 'twice', messages })
    await saveChat({ chatId: 'twice', messages: structuredClone(messages) })
    const after = await store.history('twice', { limit: 10 })
    expect(after.turns).toEqual(before.turns)
    expect((await store.getSession('twice')).messageCount).toBe(2)
  })

  it('follows the documented flow: load, stream with the model, save in onFinish; a saved question awaits its answer', async () => {
    const { loadChat, saveChat } = chatPersistence(store, { robotPersonality: 'cheerful' })
    const chatId = 'flow'
    for (const [n, [question, answer]] of [
      ['Hi!', 'Hello, human!'],
      ['What did I say?', 'You said hi.'],
    ].entries()) {
      const incoming = user(`q${n}`, question as string)
      const messages = await validateUIMessages({ messages: [...(await loadChat(chatId)), incoming] })
      // Saved before the model answers (so a reload mid-stream shows the question).
      await saveChat({ chatId, messages })
      const pending = await store.history(chatId, { limit: 1 })
      expect(pending.turns[0]?.robotResponse).toBeNull()

      let saved: Promise<void> | undefined
      const result = streamText({
        model: model(answer as string),
        messages: await convertToModelMessages(messages),
      })
      const stream = result.toUIMessageStream({
        originalMessages: messages,
        generateMessageId: () => `a${n}`,
        onFinish: ({ messages: finished }) => {
          saved = saveChat({ chatId, messages: finished })
        },
      })
      for await (const _chunk of stream) {
        // drain the stream, as the HTTP response would
      }
      await saved
    }
    const loaded = await loadChat(chatId)
    expect(
      loaded.map((m) => [m.id, m.role, m.parts.filter((p) => p.type === 'text').map((p) => p.text)]),
    ).toEqual([
      ['q0', 'user', ['Hi!']],
      ['a0', 'assistant', ['Hello, human!']],
      ['q1', 'user', ['What did I say?']],
      ['a1', 'assistant', ['You said hi.']],
    ])
    const { turns } = await store.history(chatId, { limit: 10, order: 'asc' })
    expect(turns.map((x) => [x.userMessage, x.robotResponse, x.robotPersonality])).toEqual([
      ['Hi!', 'Hello, human!', 'cheerful'],
      ['What did I say?', 'You said hi.', 'cheerful'],
    ])
    expect((await store.getSession(chatId)).messageCount).toBe(2)
  })

  it('a regenerated answer or an edited question replaces the turns after it', async () => {
    const { loadChat, saveChat } = chatPersistence(store)
    const answer = (id: string, text: string): UIMessage => ({
      id,
      role: 'assistant',
      parts: [{ type: 'text', text }],
    })
    const chatId = 'edits'
    await saveChat({
      chatId,
      messages: [user('u1', 'one'), answer('a1', 'first'), user('u2', 'two'), answer('a2', 'second')],
    })
    const first = (await store.history(chatId, { limit: 10, order: 'asc' })).turns
    // regenerate(): the last answer replaced by a new one
    await saveChat({
      chatId,
      messages: [user('u1', 'one'), answer('a1', 'first'), user('u2', 'two'), answer('a2b', 'second, again')],
    })
    expect((await loadChat(chatId)).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2b'])
    const regenerated = (await store.history(chatId, { limit: 10, order: 'asc' })).turns
    expect(regenerated[0]).toEqual(first[0]) // untouched
    expect(regenerated[1]?.robotResponse).toBe('second, again')
    // an edited first question: everything after it goes
    await saveChat({ chatId, messages: [user('u1e', 'one, edited')] })
    expect(await loadChat(chatId)).toEqual([user('u1e', 'one, edited')])
    expect((await store.getSession(chatId)).messageCount).toBe(1)
  })

  it('keeps turns recorded by other means when the loaded list is saved back', async () => {
    const { loadChat, saveChat } = chatPersistence(store)
    const foreign = await store.recordTurn({
      sessionId: 'mixed',
      robotPersonality: 'helper',
      userMessage: 'From the HTTP API',
      robotResponse: 'Answered there',
      metadata: { channel: 'sms' },
    })
    const loaded = await loadChat('mixed')
    expect(loaded).toEqual([
      { id: `${foreign.id}-user`, role: 'user', parts: [{ type: 'text', text: 'From the HTTP API' }] },
      { id: `${foreign.id}-assistant`, role: 'assistant', parts: [{ type: 'text', text: 'Answered there' }] },
    ])
    await saveChat({ chatId: 'mixed', messages: [...loaded, user('u2', 'And now?')] })
    const { turns } = await store.history('mixed', { limit: 10, order: 'asc' })
    expect(turns[0]).toEqual(foreign)
    expect(turns.map((x) => x.userMessage)).toEqual(['From the HTTP API', 'And now?'])
  })

  it('deleteChat removes the chat; an unknown chat loads empty and deletes without error', async () => {
    const { loadChat, saveChat, deleteChat } = chatPersistence(store)
    await saveChat({ chatId: 'gone', messages: [user('u', 'bye')] })
    await deleteChat('gone')
    expect(await loadChat('gone')).toEqual([])
    await deleteChat('gone')
    expect(await loadChat('never')).toEqual([])
  })

  it('names the field of bad input', async () => {
    const { loadChat, saveChat } = chatPersistence(store)
    const fieldOf = (p: Promise<unknown>) =>
      p.then(
        () => 'no error',
        (e: unknown) => (e instanceof ValidationError ? e.field : String(e)),
      )
    expect(await fieldOf(loadChat(''))).toBe('chatId')
    expect(await fieldOf(saveChat({ chatId: 'bad', messages: 'nope' as never }))).toBe('messages')
    expect(
      await fieldOf(
        saveChat({
          chatId: 'bad',
          messages: [user('u', 'x'), { id: 'a', role: 'robot', parts: [] } as never],
        }),
      ),
    ).toBe('messages[1].role')
    expect(await fieldOf(saveChat({ chatId: 'bad', messages: [{ id: '', role: 'user', parts: [] }] }))).toBe(
      'messages[0].id',
    )
    const huge: UIMessage = {
      id: 'big',
      role: 'user',
      parts: [{ type: 'data-blob', data: 'x'.repeat(20_000) }],
    }
    expect(await fieldOf(saveChat({ chatId: 'bad', messages: [user('u', 'ok'), huge] }))).toBe('messages[1]')
  })
})
