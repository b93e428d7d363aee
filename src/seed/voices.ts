// How each robot personality talks. Templates take {topic}, {thing}, {Thing}, {task} and {tip}
// from the topic of the turn (see text.ts); emoji and non-ASCII letters are deliberate, so seeded
// data exercises Unicode end to end.

export interface Voice {
  openers: readonly string[]
  /** Body sentences; a reply uses one to several of them. */
  lines: readonly string[]
  closers: readonly string[]
}

export const VOICES = {
  friendly: {
    openers: ['Great question! 😊', 'Happy to help!', 'Oh, I love this one.', 'Of course!', 'Hi there! 👋'],
    lines: [
      'Here’s the thing: {tip}.',
      'When it comes to {thing}, remember that {tip}.',
      'A good first step to {task} is to start small and stay consistent.',
      'You’re already on the right track, honestly!',
      'Lots of people find {topic} tricky at first, so don’t worry.',
      'If I were you, I’d keep a little notebook about {thing}.',
    ],
    closers: ['Let me know how it goes! 🌟', 'You’ve got this 💪', 'Anything else I can help with?'],
  },
  sarcastic: {
    openers: [
      'Oh, wonderful, another question about {topic}.',
      'Sure, because that always goes well.',
      'Ah yes, the classic.',
      'Wow. Bold of you to ask.',
    ],
    lines: [
      'Shockingly, {tip}. Who knew.',
      'You could try to {task}, or you could keep guessing. Your call.',
      'Nobody has ever struggled with {thing} before. Certainly not millions of people.',
      'Fine: {tip}. Write it down this time.',
      'I’m sure the internet told you something different, and I’m sure it was very convincing.',
    ],
    closers: ['You’re welcome, I guess. 🙄', 'Try not to break anything.', 'Thrilling stuff.'],
  },
  pirate: {
    openers: ['Arr, matey!', 'Ahoy there! 🏴‍☠️', 'Shiver me timbers, a fine question!', 'Yo ho!'],
    lines: [
      'Any sailor worth their salt knows {tip}.',
      'To {task}, ye must first chart yer course.',
      'I once lost a whole treasure chest over {thing}, true story.',
      'Mark me words: {tip}, or ye walk the plank!',
      '{Thing}? That be a tale for the whole crew, it be.',
    ],
    closers: ['Fair winds, friend! ⚓', 'Now off with ye, and mind the kraken.', 'Yo ho ho! 🦜'],
  },
  professor: {
    openers: [
      'An excellent question.',
      'Let us consider this carefully.',
      'Indeed, the literature is quite clear here.',
      'Ah, a classic problem.',
    ],
    lines: [
      'First, observe that {tip}.',
      'The common misconception about {thing} is that it is simple; it is not.',
      'To {task}, one proceeds in three stages: preparation, practice and review.',
      'Empirically speaking, {tip} — cf. nearly every study on {topic}.',
      'Note, however, that correlation is not causation.',
      'The Greeks had a word for this, naturally: μέτρον, measure.',
    ],
    closers: ['I trust this clarifies matters.', 'We shall revisit this next lecture. 📚', 'Any questions?'],
  },
  zen: {
    openers: ['Breathe. 🍃', 'Ah.', 'The question is the beginning of the answer.', 'Be still for a moment.'],
    lines: [
      'Like water finding its way, {tip}.',
      'You wish to {task}. First, wish nothing.',
      '{Thing}? Neither good nor bad. It simply is.',
      'The path to {task} is walked one step at a time.',
      'Even {thing} was once a beginner’s mind.',
    ],
    closers: ['☯️', 'Let it be.', 'The rest will come when it is ready. 🌸'],
  },
  noir: {
    openers: [
      'The rain hadn’t stopped for three days when you asked me that.',
      'It was a question about {topic}. They always are.',
      'I poured a coffee, black, and looked at your question.',
      'Another night, another case.',
    ],
    lines: [
      'Everybody in this town knows {tip}. Nobody talks about it.',
      '{Thing} had trouble written all over it.',
      'You want to {task}? Kid, everybody wants something.',
      'The truth was simple, and it was ugly: {tip}.',
      'I’d seen this before, back when the city still had neon that worked.',
    ],
    closers: ['Case closed. 🕵️', 'Then the phone rang, and I let it ring.', 'Watch your back out there.'],
  },
} as const satisfies Record<string, Voice>

export type Personality = keyof typeof VOICES

export const PERSONALITIES = Object.keys(VOICES) as Personality[]

export function isPersonality(name: string): name is Personality {
  return Object.hasOwn(VOICES, name)
}
