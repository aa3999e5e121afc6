#!/usr/bin/env bun
/**
 * bench/serve-create: wall time from `ssh -tt +NAME@host` (burrow serve --allow-create) to the first
 * shell prompt, beside `incus launch IMAGE NAME` + `incus exec NAME -- bash -l` to the first
 * prompt, for the same local image. Runs alternate; each instance is deleted afterwards.
 * usage: bun bench/serve-create.ts [--runs 5] [--image burrow/debian]
 */
import { parseArgs } from 'node:util'
import { incus } from '../src/backends/incus/testing'
import { prepareTargets, sshArgs, startServe } from '../tests/serve/support'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
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
      () => reject(new Error(`no prompt from ${argv.join(' ')}: ${JSON.stringify(text.slice(-200))}`)),
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
try {
  for (let i = 0; i < RUNS; i++) {
    const a = `burrow-b-ssh-${i}`
    const b = `burrow-b-incus-${i}`
    await Promise.all([a, b].map((n) => incus('delete', '--force', n).catch(() => {})))
    burrow.push(await toPrompt([...sshArgs(s, `+${a}+${IMAGE}`, ['-tt'])]))
    console.error(`run ${i + 1}: burrow ${burrow.at(-1)!.toFixed(0)} ms`)
    const t = performance.now()
    await incus('launch', IMAGE, b)
    const launch = performance.now() - t
    plain.push(launch + (await toPrompt(['incus', 'exec', b, '--', 'bash', '-l'])))
    console.error(`run ${i + 1}: incus ${plain.at(-1)!.toFixed(0)} ms`)
    await Promise.all([a, b].map((n) => incus('delete', '--force', n).catch(() => {})))
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
console.log(`\nratio burrow / incus (medians): ${(median(burrow) / median(plain)).toFixed(2)}×`)
