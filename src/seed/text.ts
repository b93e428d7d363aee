// Plausible chat text for seeded turns: a user message and a robot reply on the same topic, in the
// robot's voice, of varied length (mostly short, now and then a long story or a lecture).
import type { Random } from './random.js'
import type { Topic } from './topics.js'
import { type Personality, VOICES } from './voices.js'

const FIRST_MESSAGES = [
  'Hi! Can you help me {task}?',
  'hey, quick question about {topic}',
  'What is the best way to {task}?',
  'I keep failing to {task}. Any advice?',
  'Tell me something interesting about {thing}.',
  'Good morning ☀️ I want to {task}, where do I start?',
  'Is it true that {tip}?',
  'ok so {thing} is driving me crazy 😩',
  '¿Puedes ayudarme con {topic}? I mean, can you help me with it?',
  'Bonjour ! Question about {thing}: am I doing it wrong?',
]

const FOLLOW_UPS = [
  'thanks! and what about {thing}?',
  'Wait, really? Why?',
  'That didn’t work 😕',
  'lol ok',
  'Can you explain that more simply?',
  'How long does it usually take to {task}?',
  'And if I only have 10 minutes a day?',
  'Makes sense. What would you do about {thing}?',
  'Danke! 🙏',
  'hmm, my friend says the opposite',
  'Could you give me a step-by-step plan?',
  'ありがとう！ One more thing about {thing}…',
  'so {tip}? interesting',
  '👍',
]

const STORY = [
  'So here’s my situation.',
  'I started trying to {task} about three weeks ago.',
  'Everything went fine until {thing} got involved.',
  'I read online that {tip}, but I’m not sure it applies to me.',
  'My budget is small and my patience is smaller.',
  'I’ve tried twice already and both times it went sideways.',
  'My partner thinks I’m obsessed with {topic}, which is fair.',
  'Honestly I just want someone to tell me what to do first.',
  'Also, is {thing} even worth it? Be honest.',
]

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

type Slot = 'topic' | 'thing' | 'Thing' | 'task' | 'tip'
type Part = string | { slot: Slot }

/** Templates split once into literal text and slots: a million turns fill tens of millions of them. */
const compiled = new Map<string, Part[]>()

function compile(template: string): Part[] {
  let parts = compiled.get(template)
  if (!parts) {
    parts = template
      .split(/\{(topic|thing|Thing|task|tip)\}/)
      .map((piece, i) => (i % 2 === 1 ? { slot: piece as Slot } : piece))
    compiled.set(template, parts)
  }
  return parts
}

/** Fills {topic}, {thing}, {Thing}, {task} and {tip}; each slot draws its own pick. */
export function fill(template: string, rnd: Random, topic: Topic): string {
  let out = ''
  for (const part of compile(template)) {
    if (typeof part === 'string') out += part
    else if (part.slot === 'topic') out += topic.name
    else if (part.slot === 'thing') out += rnd.pick(topic.things)
    else if (part.slot === 'Thing') out += capitalize(rnd.pick(topic.things))
    else if (part.slot === 'task') out += rnd.pick(topic.tasks)
    else out += rnd.pick(topic.tips)
  }
  return out
}

/** What the user says at turn `index` (0 = the first of the session). */
export function userMessage(rnd: Random, topic: Topic, index: number): string {
  if (rnd.chance(0.05)) {
    // A long message: a story of several sentences, sometimes told twice over.
    const n = rnd.int(4, 12)
    const parts: string[] = []
    for (let i = 0; i < n; i++) parts.push(fill(rnd.pick(STORY), rnd, topic))
    return parts.join(' ')
  }
  return fill(rnd.pick(index === 0 || rnd.chance(0.15) ? FIRST_MESSAGES : FOLLOW_UPS), rnd, topic)
}

/** `k` different items in random order (partial Fisher-Yates on a copy). */
function sample<T>(rnd: Random, items: readonly T[], k: number): T[] {
  const pool = [...items]
  const n = Math.min(k, pool.length)
  for (let i = 0; i < n; i++) {
    const j = rnd.int(i, pool.length - 1)
    ;[pool[i], pool[j]] = [pool[j] as T, pool[i] as T]
  }
  return pool.slice(0, n)
}

const ELABORATIONS = [
  'Also, {tip}.',
  'On top of that, {tip}.',
  'And about {thing}: {tip}.',
  'One more: {tip}.',
]

/** The robot's reply in its personality's voice: opener, one to a few lines, maybe a closer. */
export function robotReply(rnd: Random, personality: Personality, topic: Topic): string {
  const voice = VOICES[personality]
  const parts = [fill(rnd.pick(voice.openers), rnd, topic)]
  const long = rnd.chance(0.05) // one reply in twenty is a long answer
  for (const line of sample(rnd, voice.lines, long ? voice.lines.length : rnd.int(1, 3))) {
    parts.push(fill(line, rnd, topic))
  }
  if (long) for (let i = rnd.int(2, 6); i > 0; i--) parts.push(fill(rnd.pick(ELABORATIONS), rnd, topic))
  if (rnd.chance(0.7)) parts.push(fill(rnd.pick(voice.closers), rnd, topic))
  return parts.join(' ')
}
