#!/usr/bin/env bun
/**
 * bench/serve-create: wall time from `ssh -tt +NAME@host` (burrow serve --allow-create) to the first
 * shell prompt, beside `incus launch IMAGE NAME` + `incus exec NAME -- bash -l` to the first
 * prompt, for the same local image. Each instance is deleted right after its measurement, so
 * every creation follows a deletion, and which path goes first alternates from run to run: on a
 * `dir` pool the first creation after a deletion unpacks markedly slower than one after a creation
 * (seen here: `incus init` 3.4–4.7 s after `incus delete`, 1.3–2.0 s right after another `init`),
 * and a fixed order handed that penalty to one side (the 2.2× of issue #6). Instance names carry
 * the pid, so concurrent runs do not delete each other's instances.
 * usage: bun bench/serve-create.ts [--runs 6] [--image burrow/debian]
 */
import { parseArgs } from 'node:util'
import { incus } from '../src/incus/testing'
import { prepareTargets, sshArgs, startServe } from '../tests/serve/support'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    image: { type: 'string', default: 'burrow/debian' },
  },
})
const RUNS = Number(values.runs)
const IMAGE = values.image!

await prepareTargets()
const s = await startServe(['--allow-create'])

/** ms from spawning `argv` on a PTY until its output ends in a shell prompt; then it is killed */
async function toPrompt(argv: string[]): Promise<number> {
  const t = performance.now()
  let text = ''
  let seen: () => void
  const prompt = new Promise<void>((resolve) => (seen = resolve))
  const p = Bun.spawn(argv, {
    terminal: {
      cols: 100,
      rows: 30,
      data: (_t, d) => {
        text += new TextDecoder().decode(d)
        if (/[#$] $/.test(text)) seen()
      },
    },
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`no prompt from ${argv.join(' ')}: ${JSON.stringify(text.slice(-200))}`)),
      60_000,
    )
  })
  await Promise.race([prompt, timeout]).finally(() => clearTimeout(timer))
  const ms = performance.now() - t
  // awaiting `exited` of a PTY child can hang until its terminal closes: close it, do not wait
  p.kill('SIGKILL')
  p.terminal?.close()
  return ms
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const burrow: number[] = []
const plain: number[] = []
const remove = (n: string) => incus('delete', '--force', n).catch(() => {})
const paths = {
  burrow: async (n: string) => toPrompt([...sshArgs(s, `+${n}+${IMAGE}`, ['-tt'])]),
  incus: async (n: string) => {
    const t = performance.now()
    await incus('launch', IMAGE, n)
    return performance.now() - t + (await toPrompt(['incus', 'exec', n, '--', 'bash', '-l']))
  },
}
try {
  for (let i = 0; i < RUNS; i++) {
    const names = {
      burrow: `burrow-b-ssh-${process.pid}-${i}`,
      incus: `burrow-b-incus-${process.pid}-${i}`,
    }
    await Promise.all(Object.values(names).map(remove))
    const order = i % 2 ? (['incus', 'burrow'] as const) : (['burrow', 'incus'] as const)
    for (const what of order) {
      const ms = await paths[what](names[what])
      ;(what === 'burrow' ? burrow : plain).push(ms)
      console.error(`run ${i + 1}: ${what} ${ms.toFixed(0)} ms`)
      await remove(names[what])
    }
  }
} finally {
  await s.stop()
}
const row = (what: string, xs: number[]) =>
  `| ${what} | ${median(xs).toFixed(0)} ms | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} ms |`
console.log(`\n${RUNS} runs, image ${IMAGE}\n`)
console.log('| path | median | range |\n|---|---|---|')
console.log(row('`ssh -tt +NAME@host` → prompt (burrow serve --allow-create)', burrow))
console.log(row('`incus launch` + `incus exec … bash -l` → prompt', plain))
const ratios = burrow.map((b, i) => b / plain[i]!)
console.log(`\nratio burrow / incus (medians): ${(median(burrow) / median(plain)).toFixed(2)}×`)
console.log(
  `per run: ${ratios.map((r) => r.toFixed(2)).join(' ')} (median ${median(ratios).toFixed(2)}×)`,
)
