// robot-brain-db/langchain inside LangChain itself: a RunnableWithMessageHistory over a fake chat
// model from @langchain/core reads and writes the conversation through the store.
import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  ToolMessage,
} from '@langchain/core/messages'
import { ChatPromptTemplate, MessagesPlaceholder } from '@langchain/core/prompts'
import { RunnableWithMessageHistory } from '@langchain/core/runnables'
import { FakeListChatModel } from '@langchain/core/utils/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RobotBrainChatMessageHistory } from '../../src/adapters/langchain.js'
import { ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

/** What a message carries that matters to a conversation, for comparisons. */
function shape(m: BaseMessage) {
  const ai = m as AIMessage
  return {
    type: m.getType(),
    content: m.content,
    id: m.id,
    name: m.name,
    ...(ai.tool_calls?.length ? { tool_calls: ai.tool_calls } : {}),
    ...((m as ToolMessage).tool_call_id ? { tool_call_id: (m as ToolMessage).tool_call_id } : {}),
  }
}

describe(`LangChain chat message history (${backend})`, () => {
  let t: TestStore
  let store: Store
  beforeAll(async () => {
    t = await openTestStore('adapter_langchain')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('serves RunnableWithMessageHistory: the second call sees the first, the store holds both turns', async () => {
    const prompt = ChatPromptTemplate.fromMessages([
      ['system', 'You are a cheerful robot.'],
      new MessagesPlaceholder('history'),
      ['human', '{question}'],
    ])
    const model = new FakeListChatModel({ responses: ['Hello, human!', 'You said hi.'] })
    const chain = new RunnableWithMessageHistory({
      runnable: prompt.pipe(model),
      getMessageHistory: (sessionId: string) =>
        new RobotBrainChatMessageHistory({ store, sessionId, robotPersonality: 'cheerful' }),
      inputMessagesKey: 'question',
      historyMessagesKey: 'history',
    })
    const seen: BaseMessage[][] = []
    const callbacks = [
      {
        handleChatModelStart: async (_llm: unknown, messages: BaseMessage[][]) => {
          seen.push(messages[0] ?? [])
        },
      },
    ]
    const config = { configurable: { sessionId: 'lc-chat' }, callbacks }
    const first = await chain.invoke({ question: 'Hi!' }, config)
    expect(first.content).toBe('Hello, human!')
    const second = await chain.invoke({ question: 'What did I say?' }, config)
    expect(second.content).toBe('You said hi.')

    // The model's second prompt: system, the stored history, the new question.
    expect(seen[1]?.map((m) => [m.getType(), m.content])).toEqual([
      ['system', 'You are a cheerful robot.'],
      ['human', 'Hi!'],
      ['ai', 'Hello, human!'],
      ['human', 'What did I say?'],
    ])
    // One turn per exchange, readable by everything else that uses the store.
    const { turns } = await store.history('lc-chat', { limit: 10 })
    expect(turns.map((x) => [x.userMessage, x.robotResponse, x.robotPersonality])).toEqual([
      ['What did I say?', 'You said hi.', 'cheerful'],
      ['Hi!', 'Hello, human!', 'cheerful'],
    ])
    expect((await store.getSession('lc-chat')).messageCount).toBe(2)
  })

  it('returns every message as it was added: types, ids, names, tool calls, content blocks', async () => {
    const history = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-roundtrip' })
    const added: BaseMessage[] = [
      new SystemMessage({ content: 'Answer briefly.', id: 'sys-1' }),
      new HumanMessage({ content: 'Weather in Paris?', id: 'h-1', name: 'ada' }),
      new AIMessage({
        content: '',
        id: 'ai-1',
        tool_calls: [{ id: 'call-1', name: 'weather', args: { city: 'Paris' }, type: 'tool_call' }],
      }),
      new ToolMessage({ content: '{"celsius":21}', tool_call_id: 'call-1', id: 'tool-1' }),
      new AIMessage({ content: 'It is 21 °C in Paris.', id: 'ai-2' }),
      new HumanMessage({
        content: [
          { type: 'text', text: 'And this picture?' },
          { type: 'image_url', image_url: { url: 'https://example.com/cloud.png' } },
        ],
        id: 'h-2',
      }),
    ]
    await history.addMessages(added.slice(0, 3))
    for (const m of added.slice(3)) await history.addMessage(m)
    const back = await new RobotBrainChatMessageHistory({ store, sessionId: 'lc-roundtrip' }).getMessages()
    expect(back.map(shape)).toEqual(added.map(shape))
    // The text columns hold the readable text; the last human message awaits its answer.
    const { turns } = await store.history('lc-roundtrip', { limit: 10, order: 'asc' })
    expect(turns.map((x) => [x.userMessage, x.robotResponse])).toEqual([
      ['Answer briefly.', null],
      ['Weather in Paris?', ''],
      ['{"celsius":21}', 'It is 21 °C in Paris.'],
      ['And this picture?', null],
    ])
  })

  it('an AI message with no question waiting gets a turn of its own; the next answer completes the open turn', async () => {
    const history = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-greeting' })
    await history.addAIMessage('Hello! Ask me anything.')
    await history.addUserMessage('What is 2 + 2?')
    await history.addAIMessage('4.')
    expect((await history.getMessages()).map((m) => [m.getType(), m.content])).toEqual([
      ['ai', 'Hello! Ask me anything.'],
      ['human', 'What is 2 + 2?'],
      ['ai', '4.'],
    ])
    const { turns } = await store.history('lc-greeting', { limit: 10, order: 'asc' })
    expect(turns.map((x) => [x.userMessage, x.robotResponse])).toEqual([
      ['', 'Hello! Ask me anything.'],
      ['What is 2 + 2?', '4.'],
    ])
  })

  it('reads turns recorded by other means as plain human and AI messages', async () => {
    await store.recordTurn({
      sessionId: 'lc-plain',
      robotPersonality: 'helper',
      userMessage: 'From the HTTP API',
      robotResponse: 'Answered there',
    })
    const history = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-plain' })
    expect((await history.getMessages()).map((m) => [m.getType(), m.content])).toEqual([
      ['human', 'From the HTTP API'],
      ['ai', 'Answered there'],
    ])
  })

  it('clear() deletes the session; an unknown session reads empty and clears without error', async () => {
    const history = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-clear' })
    await history.addMessages([new HumanMessage('one'), new AIMessage('two')])
    await history.clear()
    expect(await history.getMessages()).toEqual([])
    expect((await store.history('lc-clear', { limit: 5 })).turns).toEqual([])
    await history.clear()
    const none = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-never' })
    expect(await none.getMessages()).toEqual([])
  })

  it('names the field of bad input', async () => {
    expect(() => new RobotBrainChatMessageHistory({ store, sessionId: '' })).toThrow(ValidationError)
    expect(() => new RobotBrainChatMessageHistory({ store, sessionId: '' })).toThrow(/sessionId/)
    const history = new RobotBrainChatMessageHistory({
      store,
      sessionId: 'lc-bad',
      robotPersonality: 'x'.repeat(51),
    })
    const err = await history.addUserMessage('hi').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).field).toBe('robotPersonality')
    const big = new RobotBrainChatMessageHistory({ store, sessionId: 'lc-bad' })
    const huge = new HumanMessage({ content: 'hi', additional_kwargs: { blob: 'x'.repeat(20_000) } })
    const err2 = await big.addMessages([huge]).catch((e: unknown) => e)
    expect(err2).toBeInstanceOf(ValidationError)
    expect((err2 as ValidationError).field).toBe('messages[0]')
    expect((err2 as ValidationError).message).toMatch(/metadata/)
  })
})
