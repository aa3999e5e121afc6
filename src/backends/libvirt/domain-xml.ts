/**
 * The vsock CID in a libvirt domain's XML, as libvirt-ssh-proxy reads it with the XPath
 * `/domain/devices/vsock/cid`: `<vsock model='virtio'><cid auto='yes' address='3'/></vsock>`.
 * A small tokenizer that tracks element nesting, so a `<vsock>` or `<cid>` inside `<metadata>` or
 * a `<description>` text never counts, and the vsock device's own `<address type='pci'/>` child is
 * not mistaken for the CID.
 */

export interface VsockCid {
  /** base-10 CID; absent while an automatic CID is unassigned (domain not running) */
  address?: string
  /** libvirt assigns the CID when the domain starts (`auto='yes'`, or no `<cid>` at all) */
  auto: boolean
}

// comments, CDATA, processing instructions and doctypes are skipped; tags are captured
const TOKEN =
  /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[?!][^>]*>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g
const ATTR = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of text.matchAll(ATTR)) out[m[1]!] = m[2] ?? m[3]!
  return out
}

function cidOf(attrs: Record<string, string>): VsockCid {
  const address = attrs.address
  return {
    // libvirt-ssh-proxy takes only a base-10 address; anything else counts as none
    ...(address !== undefined && /^[0-9]+$/.test(address) ? { address } : {}),
    auto: attrs.auto === 'yes',
  }
}

/** The first vsock device's CID, or undefined when the domain has no vsock device. */
export function readVsockCid(xml: string): VsockCid | undefined {
  const path: string[] = []
  let inVsock = false
  for (const m of xml.matchAll(TOKEN)) {
    const [, closing, name, attrText, selfClosing] = m
    if (name === undefined) continue
    if (closing) {
      if (inVsock && path.length === 3 && name === 'vsock') return { auto: true }
      path.pop()
      continue
    }
    const depth = path.length
    if (depth === 2 && name === 'vsock' && path[0] === 'domain' && path[1] === 'devices') {
      // libvirt fills in <cid auto='yes'/> when defining a domain without one
      if (selfClosing) return { auto: true }
      inVsock = true
    } else if (inVsock && depth === 3 && name === 'cid') {
      return cidOf(attributes(attrText ?? ''))
    }
    if (!selfClosing) path.push(name)
  }
  return undefined
}
