// What seeded users talk about. Each topic has the words the templates of text.ts slot in, so a
// user message and the robot's reply in one turn stay on the same subject.

export interface Topic {
  /** As said in a sentence: "sourdough baking". */
  name: string
  /** Things within the topic: "my starter". */
  things: readonly string[]
  /** Things to do: "bake a loaf that actually rises". */
  tasks: readonly string[]
  /** Short pieces of advice, each a full clause: "a warm spot speeds everything up". */
  tips: readonly string[]
}

export const TOPICS: readonly Topic[] = [
  {
    name: 'sourdough baking',
    things: ['my starter', 'the dough', 'the crust', 'rye flour', 'the proofing basket'],
    tasks: ['bake a loaf that actually rises', 'feed a starter', 'get an open crumb', 'score bread'],
    tips: [
      'a warm spot speeds fermentation up',
      'weighing flour beats measuring cups every time',
      'a longer cold proof gives a deeper flavour',
      'steam in the first 20 minutes makes the crust crackle',
    ],
  },
  {
    name: 'space exploration',
    things: ['the James Webb telescope', 'Mars rovers', 'black holes', 'the ISS', 'Europa'],
    tasks: ['see Saturn with a cheap telescope', 'understand orbital mechanics', 'spot the ISS tonight'],
    tips: [
      'light from the Sun takes about 8 minutes to reach us',
      'orbiting is really falling and missing the ground',
      'dark skies matter more than a bigger lens',
      'Europa probably hides an ocean under its ice',
    ],
  },
  {
    name: 'learning TypeScript',
    things: ['generics', 'the compiler', 'strict mode', 'union types', 'my tsconfig'],
    tasks: ['type a fetch wrapper', 'fix "any" everywhere', 'migrate a JavaScript project'],
    tips: [
      'strict mode catches most bugs before they run',
      'narrowing with `in` and `typeof` beats casting',
      'small types composed together read better than one giant interface',
      'unknown is the honest version of any',
    ],
  },
  {
    name: 'houseplants',
    things: ['my monstera', 'a fiddle-leaf fig', 'the succulents', 'yellow leaves', 'fungus gnats'],
    tasks: ['stop overwatering', 'propagate a pothos', 'repot a cactus without crying'],
    tips: [
      'most plants die from too much water, not too little',
      'bright indirect light suits nearly everything',
      'a finger in the soil is the best moisture meter',
      'drainage holes are not optional',
    ],
  },
  {
    name: 'travel in Japan',
    things: ['the Shinkansen', 'Kyoto temples', 'a JR pass', 'onsen etiquette', '東京の地下鉄'],
    tasks: ['plan two weeks in Japan', 'order ramen without English', 'avoid the crowds at Fushimi Inari'],
    tips: [
      'early mornings beat the tour buses',
      'an IC card works on almost every train and in convenience stores',
      'tipping is not expected and can confuse people',
      'luggage forwarding (takkyubin) saves your back',
    ],
  },
  {
    name: 'running',
    things: ['my knees', 'interval training', 'a half marathon', 'new shoes', 'my pace'],
    tasks: ['run 5k without stopping', 'train for a half marathon', 'stop getting shin splints'],
    tips: [
      'most runs should feel easy enough to chat',
      'add no more than about 10% distance per week',
      'sleep is part of the training plan',
      'cadence matters more than stride length',
    ],
  },
  {
    name: 'jazz music',
    things: ['Coltrane', 'bebop', 'the ii–V–I', 'Kind of Blue', 'walking bass lines'],
    tasks: ['start listening to jazz', 'improvise over a blues', 'understand modal jazz'],
    tips: [
      'a twelve-bar blues is the best place to start improvising',
      'listening comes before playing',
      'transcribing one solo teaches more than ten books',
      'silence is part of the phrase',
    ],
  },
  {
    name: 'personal finance',
    things: ['my budget', 'index funds', 'an emergency fund', 'credit card debt', 'my pension'],
    tasks: ['save for a house', 'pay off debt faster', 'start investing with little money'],
    tips: [
      'paying the highest interest rate first saves the most',
      'automating savings beats willpower',
      'fees compound just like returns do',
      'three months of expenses is a sane first target',
    ],
  },
  {
    name: 'cats',
    things: ['my cat', 'the litter box', 'scratching posts', 'a kitten', 'the 3 a.m. zoomies'],
    tasks: ['introduce a second cat', 'stop the sofa scratching', 'get a cat into a carrier'],
    tips: [
      'cats prefer water away from their food',
      'a scratching post has to be taller than the cat stretched out',
      'slow blinks are a friendly hello',
      'play before dinner settles the night',
    ],
  },
  {
    name: 'Roman history',
    things: ['Julius Caesar', 'the aqueducts', 'Hadrian’s Wall', 'the Senate', 'Pompeii'],
    tasks: ['understand why Rome fell', 'read the primary sources', 'visit Rome in three days'],
    tips: [
      'the Republic lasted longer than the Empire in the west',
      'Roman concrete gets stronger in seawater',
      'there was no single cause for the fall',
      'Pompeii shows everyday life better than any monument',
    ],
  },
  {
    name: 'cooking for one',
    things: ['leftovers', 'a cast-iron pan', 'rice', 'meal prep', 'the freezer'],
    tasks: ['cook without wasting food', 'make dinner in 15 minutes', 'season a cast-iron pan'],
    tips: [
      'a hot pan and a dry surface make a proper sear',
      'salt early for meat, late for greens',
      'frozen vegetables are picked at their best',
      'one good knife beats a drawer of gadgets',
    ],
  },
  {
    name: 'learning Spanish',
    things: ['the subjunctive', 'ser vs estar', 'rolling my r’s', 'Duolingo', 'podcasts en español'],
    tasks: ['hold a conversation', 'stop translating in my head', 'learn the past tenses'],
    tips: [
      'speaking badly today beats speaking perfectly never',
      'short daily practice beats long weekly sessions',
      'listening at a slightly hard level grows comprehension fastest',
      'mistakes are how the grammar sticks',
    ],
  },
]
