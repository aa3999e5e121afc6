import { describe, expect, test } from 'bun:test'
import { readVsockCid } from './domain-xml'

const domain = (devices: string, before = '') =>
  `<domain type='qemu'>\n  <name>vm</name>${before}\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n${devices}\n  </devices>\n</domain>\n`

const pci = "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>"

describe('readVsockCid', () => {
  test.each([
    [
      'an explicit CID',
      domain(`<vsock model='virtio'><cid auto='no' address='4711'/>${pci}</vsock>`),
      { address: '4711', auto: false },
    ],
    [
      'double quotes',
      domain('<vsock model="virtio"><cid auto="no" address="3"/></vsock>'),
      { address: '3', auto: false },
    ],
    [
      'spaces around =',
      domain("<vsock model = 'virtio'>\n<cid address = '12' auto = 'no' />\n</vsock>"),
      { address: '12', auto: false },
    ],
    [
      'a running domain with an automatic CID',
      domain(`<vsock model='virtio'>\n<cid auto='yes' address='3'/>\n${pci}\n</vsock>`),
      { address: '3', auto: true },
    ],
    [
      'an automatic CID before the domain starts',
      domain(`<vsock model='virtio'><cid auto='yes'/>${pci}</vsock>`),
      { auto: true },
    ],
    [
      'the pci <address> before <cid>',
      domain(`<vsock model='virtio'>${pci}<cid auto='no' address='9'/></vsock>`),
      { address: '9', auto: false },
    ],
    ['a vsock without <cid>', domain(`<vsock model='virtio'>${pci}</vsock>`), { auto: true }],
    ['a self-closing vsock', domain("<vsock model='virtio'/>"), { auto: true }],
    [
      'a non-decimal address',
      domain("<vsock model='virtio'><cid auto='no' address='0x10'/></vsock>"),
      { auto: false },
    ],
    [
      'an empty address',
      domain("<vsock model='virtio'><cid auto='no' address=''/></vsock>"),
      { auto: false },
    ],
    [
      'only the first vsock',
      domain("<vsock><cid address='5'/></vsock><vsock><cid address='6'/></vsock>"),
      { address: '5', auto: false },
    ],
    [
      'an XML declaration and comment first',
      `<?xml version='1.0'?><!-- <vsock><cid address='1'/></vsock> -->${domain("<vsock><cid address='8'/></vsock>")}`,
      { address: '8', auto: false },
    ],
  ])('reads %s', (_, xml, want) => {
    expect(readVsockCid(xml)).toEqual(want)
  })

  test.each([
    ['no vsock device', domain("<disk type='file' device='disk'><source file='/x'/></disk>")],
    [
      'a vsock in <metadata>',
      domain(
        '',
        "<metadata><app:vsock xmlns:app='urn:x'><cid address='7'/></app:vsock><vsock><cid address='7'/></vsock></metadata>",
      ),
    ],
    ['a <cid> outside a vsock', domain("<interface type='user'><cid address='7'/></interface>")],
    [
      'vsock text in the description',
      domain('', "<description>&lt;vsock&gt;&lt;cid address='7'/&gt;</description>"),
    ],
    ['a vsock in a comment', domain("<!-- <vsock><cid address='7'/></vsock> -->")],
    ['a vsock in CDATA', domain("<![CDATA[<vsock><cid address='7'/></vsock>]]>")],
    ['a vsock outside <devices>', "<domain><vsock><cid address='7'/></vsock><devices/></domain>"],
    [
      'a vsock under another root',
      "<node><devices><vsock><cid address='7'/></vsock></devices></node>",
    ],
    ['an empty string', ''],
  ])('finds nothing with %s', (_, xml) => {
    expect(readVsockCid(xml)).toBeUndefined()
  })
})
