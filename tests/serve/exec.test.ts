import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { incus, incusAvailable } from '../../src/incus/testing'
import type { Serve } from './support'
import { C1, P1, PROJECT, prepareTargets, ssh, sshArgs, startServe, STOPPED } from './support'

let s: Serve

describe.skipIf(!incusAvailable())('serve: exec through the real OpenSSH client', () => {
  beforeAll(async () => {
    await prepareTargets()
    s = await startServe()
  })
  afterAll(() => s?.stop())

  test.each([0, 1, 42])('exit status %p', async (code) => {
    const r = await ssh(s, C1, `echo out; echo err >&2; exit ${code}`)
    expect(r).toEqual({ code, stdout: 'out\n', stderr: 'err\n' })
  })

  test('a process killed by a signal ends with 128+N, as Incus and shells report it', async () => {
    expect((await ssh(s, C1, 'kill -9 $$')).code).toBe(137)
    expect((await ssh(s, C1, 'sleep 30 & p=$!; kill -TERM $p; wait $p')).code).toBe(143)
  })

  test('a multi-line script with quotes, $ and pipes arrives byte-exact', async () => {
    const script = [
      'a="double \\"quoted\\" $HOME"',
      "b='single $HOME \\n'",
      'printf "%s|%s\\n" "$a" "$b"',
      'echo "tab\there" | tr a-z A-Z',
      'cat <<EOF',
      '  heredoc $USER `echo back` \\$ ; & | > < ( ) { } * ? ~ #',
      'EOF',
      'printf "%s" "ü€🙂" | od -An -tx1 | tr -d " \\n"; echo',
    ].join('\n')
    const r = await ssh(s, C1, script)
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe(
      [
        'double "quoted" /root|single $HOME \\n',
        'TAB\tHERE',
        '  heredoc root back $ ; & | > < ( ) { } * ? ~ #',
        'c3bce282acf09f9982',
        '',
      ].join('\n'),
    )
  })

  test('64 MiB of stdin arrive intact (sha256)', async () => {
    const data = new Uint8Array(64 << 20)
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536))
    const r = await ssh(s, C1, 'sha256sum', { stdin: data })
    expect(r.code).toBe(0)
    expect(r.stdout.split(' ')[0]).toBe(new Bun.CryptoHasher('sha256').update(data).digest('hex'))
  })

  test('a slow reader holds the command back instead of filling burrow with output', async () => {
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.pid}/status`, 'utf8'))![1]) * 1024
    const before = rss()
    const p = Bun.spawn([...sshArgs(s, C1), 'head -c 268435456 /dev/zero'], { stdout: 'pipe' })
    const reader = p.stdout.getReader()
    let n = (await reader.read()).value?.length ?? 0
    // nobody reads for a while: ssh's window fills, then burrow pauses the Incus websocket
    await Bun.sleep(1500)
    expect(rss() - before).toBeLessThan(64 << 20)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      n += value.length
    }
    expect(await p.exited).toBe(0)
    expect(n).toBe(256 << 20)
  })

  test('stdin EOF reaches the command', async () => {
    expect(await ssh(s, C1, 'wc -l; echo done', { stdin: 'a\nb\nc\n' })).toEqual({
      code: 0,
      stdout: '3\ndone\n',
      stderr: '',
    })
  })

  test('env: LANG and LC_* accepted, others refused, passwd values win', async () => {
    const r = await ssh(
      s,
      C1,
      'echo "$LANG|$LC_TIME|$EVIL|$HOME|$USER|$LOGNAME|$SHELL"; echo "$SSH_CONNECTION" | cut -d" " -f1,3,4',
      {
        extra: ['-o', 'SetEnv=LANG=C.UTF-8 LC_TIME=C EVIL=x HOME=/evil USER=evil'],
      },
    )
    expect(r.stdout).toBe(`C.UTF-8|C||/root|root|root|/bin/bash\n127.0.0.1 127.0.0.1 ${s.port}\n`)
  })

  test('an instance user other than root runs with its own uid, groups and home', async () => {
    const r = await ssh(s, `alice@${C1}`, 'id; pwd; echo $HOME $USER')
    expect(r.stdout).toBe(
      'uid=1000(alice) gid=1001(alice) groups=1001(alice),100(users),1000(dev)\n/home/alice\n/home/alice alice\n',
    )
  })

  test('instances in other projects', async () => {
    expect(await ssh(s, `${P1}.${PROJECT}`, 'hostname >/dev/null; echo ok')).toEqual({
      code: 0,
      stdout: 'ok\n',
      stderr: '',
    })
  })

  test('a stopped instance is started', async () => {
    await incus('stop', '--force', STOPPED).catch(() => {})
    const r = await ssh(s, STOPPED, 'echo up')
    expect(r).toEqual({ code: 0, stdout: 'up\n', stderr: '' })
    await incus('stop', '--force', STOPPED)
  })

  test.each([
    ['burrow-t-none', 'burrow: Failed to find instance burrow-t-none: no such instance\n'],
    [
      `${C1}.burrow-t-noproj`,
      "burrow: Failed to find project 'burrow-t-noproj': no such project\n",
    ],
    [
      `nosuchuser@${C1}`,
      `burrow: Failed to find user 'nosuchuser' in instance ${C1}: no such user\n`,
    ],
    [
      `burrow-t-noremote:${C1}`,
      "burrow: Failed to find Incus remote 'burrow-t-noremote': no such remote in /root/.config/incus/config.yml\n",
    ],
    [
      '+burrow-t-new',
      'burrow: Failed to create instance burrow-t-new: instance creation is off on this server (burrow serve --allow-create)\n',
    ],
  ])('%p: one clear line on stderr, exit status 1', async (login, line) => {
    expect(await ssh(s, login, 'true')).toEqual({ code: 1, stdout: '', stderr: line })
  })

  test('--shell su goes through su(1), which sets the groups itself', async () => {
    const su = await startServe(['--shell', 'su'])
    try {
      expect(await ssh(su, `alice@${C1}`, 'id -Gn; echo $0')).toEqual({
        code: 0,
        stdout: 'alice users dev\n-bash\n',
        stderr: '',
      })
    } finally {
      await su.stop()
    }
  })

  test('the creation form reaches an existing instance as root', async () => {
    expect(await ssh(s, `+${C1}+debian/12+m1`, 'id -un')).toEqual({
      code: 0,
      stdout: 'root\n',
      stderr: '',
    })
  })

  test('the host command of the login form needs a terminal (see incus-shell.test.ts)', async () => {
    const r = await ssh(s, '%shell', 'true')
    expect(r).toMatchObject({
      code: 1,
      stderr: 'burrow: Failed to run %shell: it needs a terminal (ssh -t)\n',
    })
  })
})
