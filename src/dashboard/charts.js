// Charts with uPlot (canvas, small, no dependencies): a width that follows its container, a palette
// the tests can find on the canvas, and a clean-up that detaches the resize observer.
import uPlot from '/dashboard/vendor/uPlot.esm.js'

/** Series colours, in order (also used by the tests to find drawn data). */
export const PALETTE = [
  '#2563eb',
  '#db2777',
  '#059669',
  '#d97706',
  '#7c3aed',
  '#0891b2',
  '#dc2626',
  '#4b5563',
]

const HEIGHT = 260

/**
 * A chart in `target`: opts are uPlot's (without width and height), data uPlot's aligned arrays.
 * Returns a function that destroys it.
 */
export function chart(target, opts, data) {
  const width = () => Math.max(280, Math.floor(target.clientWidth))
  const plot = new uPlot({ width: width(), height: HEIGHT, ...opts }, data, target)
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT }))
  observer.observe(target)
  return () => {
    observer.disconnect()
    plot.destroy()
  }
}

/** A line series. */
export const line = (label, i, extra = {}) => ({
  label,
  stroke: PALETTE[i % PALETTE.length],
  width: 2,
  points: { show: true, size: 4 },
  ...extra,
})

/** Bars for categorical charts (x = category index). */
export const bars = (label, i, extra = {}) => ({
  label,
  stroke: PALETTE[i % PALETTE.length],
  fill: PALETTE[i % PALETTE.length],
  paths: uPlot.paths.bars({ size: [0.9, 60] }),
  points: { show: false },
  ...extra,
})
