/**
 * Client compatibility: each real client against `burrow serve`, side by side with the same
 * container's own OpenSSH sshd as the control. A row passes when burrow's result equals the
 * control's, and the control's is the expected success (so two equal failures do not pass).
 * Prints the client × operation table at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { incusAvailable } from '../../src/incus/testing'
import type { Serve } from '../serve/support'
import { startServe } from '../serve/support'
import { OPENSSH_ROWS } from './rows-openssh'
import { OTHER_ROWS } from './rows-other'
import type { Target } from './support'
import { cmd, COMPAT, prepareCompat } from './support'

let serve: Serve
let burrow: Target
let control: Target
const table: string[] = []
const cell = (x: string) => x.replaceAll('|', '\\|').replaceAll('\n', ' ')

describe.skipIf(!incusAvailable())(
  "client compatibility: burrow serve beside the container's sshd",
  () => {
    beforeAll(async () => {
      serve = await startServe(['--max-startups', '100'], { keysFor: ['root'] })
      const { controlPort } = await prepareCompat(readFileSync(`${serve.key}.pub`, 'utf8'))
      // the same key for PuTTY (PPK) and Dropbear
      await cmd(['puttygen', serve.key, '-O', 'private', '-o', `${serve.key}.ppk`])
      await cmd(['dropbearconvert', 'openssh', 'dropbear', serve.key, `${serve.key}.db`])
      burrow = { name: 'burrow', port: serve.port, user: COMPAT, key: serve.key }
      control = { name: 'sshd', port: controlPort, user: 'root', key: serve.key }
    })
    afterAll(async () => {
      await serve?.stop()
      const head = ['| client | operation | burrow serve | sshd (control) |', '|---|---|---|---|']
      console.error([...head, ...table].join('\n'))
    })

    test.each([...OPENSSH_ROWS, ...OTHER_ROWS])('%s: %s', async (client, op, expected, run) => {
      const [b, c] = await Promise.all([run(burrow), run(control)])
      table.push(`| ${client} | ${cell(op)} | ${b === c ? 'same' : cell(b)} | ${cell(c)} |`)
      if (typeof expected === 'string') expect(c).toBe(expected)
      else expect(c).toMatch(expected)
      expect(b).toBe(c)
    })
  },
)
