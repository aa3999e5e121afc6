/**
 * Where a session really comes from, as the kernel knows it: the TCP connection of the sshd
 * process that the session runs under. SSH_CONNECTION is only the session's word, and a user's
 * ~/.bashrc runs before the ForceCommand and can change it; the service (root) instead walks
 * from the client's SO_PEERCRED pid up to the nearest `sshd` ancestor and reads that process's
 * established TCP socket from /proc (fd → socket inode → /proc/net/tcp{,6}).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export interface KernelSource {
  /** `ip:port` / `[ip]:port`, the way route formats SSH_CONNECTION's halves */
  from: string
  sshd: string
}

const MAX_DEPTH = 16
const ESTABLISHED = '01'

function stat(pid: number): { comm: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm is in parentheses and may itself contain ") "; the fields after the last ')' are fixed
    const close = text.lastIndexOf(')')
    const comm = text.slice(text.indexOf('(') + 1, close)
    const ppid = Number(text.slice(close + 2).split(' ')[1])
    return { comm, ppid }
  } catch {
    return undefined
  }
}

function socketInodes(pid: number): Set<string> {
  const out = new Set<string>()
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m) out.add(m[1]!)
      } catch {}
    }
  } catch {}
  return out
}

/** /proc/net/tcp's `0100007F:1F90` (IPv4, host byte order per 32-bit word) → `127.0.0.1:8080` */
export function decodeProcAddress(hex: string): string {
  const [addr, port] = hex.split(':') as [string, string]
  const p = Number.parseInt(port, 16)
  const words = addr.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''))
  if (words.length === 1) {
    const ip = words[0]!
      .match(/../g)!
      .map((b) => Number.parseInt(b, 16))
      .join('.')
    return `${ip}:${p}`
  }
  const hex16 = words.join('')
  // ::ffff:a.b.c.d (a v4 client on a v6 socket) reads as the v4 address, as sshd reports it
  if (/^0{20}ffff/i.test(hex16))
    return `${decodeProcAddress(`${words[3]!.match(/../g)!.reverse().join('')}:${port}`)}`
  const groups = hex16.match(/.{4}/g)!.map((g) => Number.parseInt(g, 16).toString(16))
  const ip = groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')
  return `[${ip}]:${p}`
}

function established(inodes: Set<string>): KernelSource | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== ESTABLISHED || !inodes.has(f[9]!)) continue
      return { sshd: decodeProcAddress(f[1]!), from: decodeProcAddress(f[2]!) }
    }
  }
  return undefined
}

/** The TCP connection of the nearest sshd above `pid`, or undefined (not under sshd). */
export function kernelSource(pid: number): KernelSource | undefined {
  let p = pid
  for (let depth = 0; depth < MAX_DEPTH && p > 1; depth++) {
    const s = stat(p)
    if (!s) return undefined
    if (s.comm === 'sshd') {
      const found = established(socketInodes(p))
      if (found) return found
    }
    p = s.ppid
  }
  return undefined
}
