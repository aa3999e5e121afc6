/** Compatibility rows for PuTTY, Dropbear, libssh2 (curl), lftp, paramiko, asyncssh, ansible. */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EXEC, EXEC_OK } from './rows-openssh'
import type { Row, Target } from './support'
import { brief, cmd, inScratch, inside, roundTrip, sshOpts } from './support'

const PY = '/usr/bin/python3'
const CLIENTS_PY = join(import.meta.dir, 'clients.py')

/** host key fingerprint for PuTTY's -hostkey */
async function fingerprint(t: Target): Promise<string> {
  const scan = await cmd(['ssh-keyscan', '-t', 'ed25519', '-p', String(t.port), '127.0.0.1'])
  const fp = await cmd(['ssh-keygen', '-lf', '-'], { stdin: scan.stdout })
  return fp.stdout.split(' ')[1] ?? ''
}

/** plink, pscp, psftp options: batch, key as PPK (made in setup), the host key pinned */
async function putty(t: Target): Promise<string[]> {
  return ['-batch', '-P', String(t.port), '-i', `${t.key}.ppk`, '-hostkey', await fingerprint(t)]
}

async function py(client: string, op: string, t: Target): Promise<string> {
  const r = await cmd([PY, CLIENTS_PY, client, op, String(t.port), t.user, t.key])
  return r.stdout.trim() || brief(r)
}

function ansible(t: Target, args: string[]) {
  const target = ['-i', '127.0.0.1,', '-u', t.user, '--private-key', t.key]
  return cmd(['ansible', 'all', ...target, '-e', `ansible_port=${t.port}`, ...args], {
    env: {
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_SSH_ARGS:
        '-F /dev/null -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile=/dev/null',
      ANSIBLE_PYTHON_INTERPRETER: PY,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_LOCAL_TEMP: '/tmp/bsc-ansible-local',
    },
  })
}

export const OTHER_ROWS: Row[] = [
  [
    'PuTTY plink',
    'exec: stdout, stderr, exit status',
    EXEC_OK,
    async (t) =>
      brief(await cmd(['plink', '-ssh', ...(await putty(t)), `${t.user}@127.0.0.1`, EXEC])),
  ],
  [
    'PuTTY pscp',
    'upload and download',
    'up=0 down=0 same=true',
    async (t) => {
      const pscp = [...['pscp', '-q'], ...(await putty(t))]
      const remote = (path: string) => `${t.user}@127.0.0.1:${path}`
      return roundTrip(
        t,
        (src, dst) => cmd([...pscp, src, remote(dst)]),
        (src, dst) => cmd([...pscp, remote(src), dst]),
      )
    },
  ],
  [
    'PuTTY psftp',
    'batch put and get',
    'code=0 data=psftp-data',
    (t) =>
      inScratch(async (dir) => {
        const p = `/tmp/bsc-psftp-${t.name}`
        writeFileSync(join(dir, 'f'), 'psftp-data\n')
        writeFileSync(join(dir, 'b'), `put f ${p}\nget ${p} g\nrm ${p}\n`)
        const argv = ['psftp', ...(await putty(t)), '-b', join(dir, 'b'), `${t.user}@127.0.0.1`]
        const r = await cmd(argv, { cwd: dir })
        const got = r.code === 0 ? readFileSync(join(dir, 'g'), 'utf8').trim() : ''
        return `code=${r.code} data=${got}`
      }),
  ],
  [
    'Dropbear dbclient',
    'exec: stdout, stderr, exit status',
    EXEC_OK,
    async (t) => {
      const login = `${t.user}@127.0.0.1`
      const r = await cmd([
        'dbclient',
        '-y',
        '-y',
        '-i',
        `${t.key}.db`,
        '-p',
        String(t.port),
        login,
        EXEC,
      ])
      // -y -y: dbclient's own notice about the unchecked host key
      const lines = r.stderr.split(/\r?\n/)
      return brief({
        ...r,
        stderr: lines.filter((l) => l && !l.includes('hostkey check')).join('\n'),
      })
    },
  ],
  [
    'curl (libssh2)',
    'sftp:// upload and download',
    'up=0 down=0 same=true',
    (t) => {
      const curl = [
        'curl',
        '-sS',
        '-k',
        '--key',
        t.key,
        '--pubkey',
        `${t.key}.pub`,
        '-u',
        `${t.user}:`,
      ]
      const url = (path: string) => `sftp://127.0.0.1:${t.port}${path}`
      return roundTrip(
        t,
        (src, dst) => cmd([...curl, '-T', src, url(dst)]),
        (src, dst) => cmd([...curl, '-o', dst, url(src)]),
      )
    },
  ],
  [
    'lftp',
    'sftp:// put and get',
    'up=0 down=0 same=true',
    (t) => {
      const prog = ['ssh', '-a', '-x', ...sshOpts(t)].join(' ')
      const open = `open -u ${t.user}, -p ${t.port} sftp://127.0.0.1`
      const lftp = (script: string) =>
        cmd([
          'lftp',
          '-c',
          `set sftp:connect-program "${prog}"; set net:max-retries 1; ${open}; ${script}`,
        ])
      return roundTrip(
        t,
        (src, dst) => lftp(`put ${src} -o ${dst}`),
        (src, dst) => lftp(`get ${src} -o ${dst}`),
      )
    },
  ],
  ...(['paramiko', 'asyncssh'] as const).flatMap((client): Row[] => [
    [client, 'exec: stdout, stderr, exit status', EXEC_OK, (t) => py(client, 'exec', t)],
    [client, 'SFTP write and read', `data=${client}-data`, (t) => py(client, 'sftp', t)],
    [client, 'SFTP symlink, readlink', 'readlink=/etc/hostname', (t) => py(client, 'symlink', t)],
  ]),
  [
    'asyncssh',
    'session across rekeys (rekey_seconds=1)',
    'echoed=line0,line1,line2 code=0',
    (t) => py('asyncssh', 'rekey', t),
  ],
  [
    'ansible-core',
    'ping',
    'SUCCESS pong',
    async (t) => {
      const r = await ansible(t, ['-m', 'ping'])
      if (!r.stdout.includes('"ping": "pong"')) return brief(r)
      return `${r.stdout.includes('SUCCESS') ? 'SUCCESS' : 'FAILED'} pong`
    },
  ],
  [
    'ansible-core',
    'command',
    'CHANGED | rc=0 >> hello',
    async (t) => {
      const r = await ansible(t, ['-m', 'command', '-a', 'echo hello'])
      return r.stdout
        .replace(/^\S+ \| /, '')
        .replace(/\s+/g, ' ')
        .trim()
    },
  ],
  [
    'ansible-core',
    'copy',
    'changed=true content=ansible-data',
    (t) =>
      inScratch(async (dir) => {
        writeFileSync(join(dir, 'f'), 'ansible-data\n')
        const dest = `/tmp/bsc-ansible-${t.name}`
        await inside(`rm -f ${dest}`)
        const r = await ansible(t, ['-m', 'copy', '-a', `src=${join(dir, 'f')} dest=${dest}`])
        const content = (await inside(`cat ${dest}`)).stdout.trim()
        return `changed=${r.stdout.includes('"changed": true')} content=${content}`
      }),
  ],
  [
    'ansible-core',
    'setup (facts)',
    'distribution=Debian user=root',
    async (t) => {
      const r = await ansible(t, ['-m', 'setup', '-a', 'gather_subset=min'])
      const dist = /"ansible_distribution": "([^"]*)"/.exec(r.stdout)?.[1]
      const user = /"ansible_user_id": "([^"]*)"/.exec(r.stdout)?.[1]
      return dist ? `distribution=${dist} user=${user}` : brief(r)
    },
  ],
]
