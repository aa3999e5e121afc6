// Against libvirtd's test driver (test+unix:///FILE, read by the daemon; as root, so the system
// socket): its domains run and have IDs, which the qemu:///system tests cannot have here (no KVM);
// see tests/e2e/libvirt.test.ts for those.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findVsockCid, notRunning } from './lookup'

const vm = (name: string, uuid: string, vsock = '') =>
  `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>8192</memory><os><type>hvm</type></os><devices>${vsock}</devices></domain>`
const cid = (address: string) =>
  `<vsock model='virtio'><cid auto='no' address='${address}'/></vsock>`
const UUID = '6695eb01-f6a4-8304-79aa-97f2502e1930'

let dir: string
let first: string
let second: string

beforeAll(() => {
  dir = mkdtempSync('/tmp/burrow-t-')
  first = join(dir, 'first.xml')
  second = join(dir, 'second.xml')
  // the test driver starts every domain it reads, numbering IDs from 1 in file order
  writeFileSync(
    first,
    `<node>${[
      vm('runner', UUID, cid('5555')),
      vm('MixedCase', '6695eb01-f6a4-8304-79aa-97f2502e1931', cid('6000')),
      vm('Dup', '6695eb01-f6a4-8304-79aa-97f2502e1932', cid('7001')),
      vm('DUP', '6695eb01-f6a4-8304-79aa-97f2502e1933', cid('7002')),
      vm('novsock', '6695eb01-f6a4-8304-79aa-97f2502e1934'),
      vm(
        'autorun',
        '6695eb01-f6a4-8304-79aa-97f2502e1935',
        "<vsock model='virtio'><cid auto='yes'/></vsock>",
      ),
    ].join('')}</node>`,
  )
  writeFileSync(
    second,
    `<node>${vm('elsewhere', '6695eb01-f6a4-8304-79aa-97f2502e1936', cid('8000'))}</node>`,
  )
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const uri = (path: string) => `test+unix://${path}`
const DEFAULT = 'test+unix:///default'
const missing = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock'

describe('findVsockCid', () => {
  test.each([
    ['runner', '5555'],
    [UUID, '5555'],
    [UUID.replaceAll('-', ''), '5555'],
    ['1', '5555'],
    ['2', '6000'],
    ['MixedCase', '6000'],
    ['mixedcase', '6000'],
    ['Dup', '7001'],
    ['DUP', '7002'],
  ])('finds %p with CID %p', async (name, want) => {
    expect((await findVsockCid(name, [uri(first)])).cid).toBe(want)
  })

  test('reports the real name and the URI it was found in', async () => {
    expect(await findVsockCid('MIXEDCASE', [uri(first)])).toEqual({
      uri: uri(first),
      name: 'MixedCase',
      cid: '6000',
    })
  })

  test('searches the URIs in order, skipping one that cannot be reached', async () => {
    expect(await findVsockCid('elsewhere', [missing, uri(first), uri(second)])).toEqual({
      uri: uri(second),
      name: 'elsewhere',
      cid: '8000',
    })
  })

  test("finds the daemon default test driver's running domain by ID", async () => {
    await expect(findVsockCid('1', [DEFAULT])).rejects.toThrow(
      `Failed to get the vsock CID of libvirt domain 'test': it has no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock> to its <devices> with 'virsh -c ${DEFAULT} edit test'; it takes effect at the next start)`,
    )
  })

  test.each([
    [
      'dup',
      `Failed to find libvirt domain 'dup': when case is ignored, several domains have that name: DUP, Dup (type one exactly: ssh keeps the case of qemu%NAME and qemu:system/NAME)`,
    ],
    [
      'novsock',
      `Failed to get the vsock CID of libvirt domain 'novsock': it has no vsock device (add <vsock model='virtio'><cid auto='yes'/></vsock> to its <devices> with 'virsh -c ${uri('FIRST')} edit novsock'; it takes effect at the next start)`,
    ],
    [
      'autorun',
      `Failed to get the vsock CID of libvirt domain 'autorun': libvirt reports no CID for the running domain (check 'virsh -c ${uri('FIRST')} dumpxml autorun')`,
    ],
    [
      'runer',
      `Failed to find libvirt domain 'runer' in ${uri('FIRST')}: no domain has that name, UUID or ID (closest: runner; see virsh -c ${uri('FIRST')} list --all)`,
    ],
    [
      '99',
      `Failed to find libvirt domain '99' in ${uri('FIRST')}: no domain has that name, UUID or ID (none has a similar name; see virsh -c ${uri('FIRST')} list --all)`,
    ],
  ])('explains %p in one line', async (name, want) => {
    await expect(findVsockCid(name, [uri(first)])).rejects.toThrow(want.replaceAll('FIRST', first))
  })

  test('names every URI it searched and the one it could not reach', async () => {
    await expect(findVsockCid('nowhere', [uri(first), missing])).rejects.toThrow(
      `Failed to find libvirt domain 'nowhere' in ${uri(first)}: no domain has that name, UUID or ID (none has a similar name; see virsh -c ${uri(first)} list --all); ${missing} was not searched: Failed to connect socket to '/nonexistent/libvirt-sock': No such file or directory`,
    )
  })

  test('says which socket is missing when no URI can be reached', async () => {
    await expect(findVsockCid('x', [missing])).rejects.toThrow(
      `Failed to connect to libvirt at ${missing}: socket /nonexistent/libvirt-sock: No such file or directory (is libvirtd running? start it with systemctl start libvirtd (or virtqemud), or libvirtd -d)`,
    )
  })
})

describe('notRunning', () => {
  // virDomainState (include/libvirt/libvirt-domain.h)
  test.each([
    [3, 'it is paused (resume it: virsh -c U resume vm)'],
    [4, 'it is shutting down (start it: virsh -c U start vm)'],
    [5, 'it is shut off (start it: virsh -c U start vm)'],
    [6, 'it has crashed (start it: virsh -c U start vm)'],
    [7, 'it is suspended by power management (wake it: virsh -c U dompmwakeup vm)'],
    [0, 'it is not running (state 0) (start it: virsh -c U start vm)'],
  ])('state %p: %p', (state, want) => {
    expect(notRunning(state, 'U', 'vm')).toBe(want)
  })
})
