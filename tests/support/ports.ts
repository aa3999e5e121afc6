/**
 * A random loopback port for a listener a test asks a client to open (`ssh -L`, `-R`): from
 * 20000 up to below the kernel's ephemeral range (net.ipv4.ip_local_port_range starts at 32768),
 * so no outgoing connection of a concurrent process can be holding it as its local port, which
 * would make the listener fail to bind (seen once in CI as a -L that never listened).
 */
export function listenPort(): number {
  return 20000 + Math.floor(Math.random() * 12000)
}
