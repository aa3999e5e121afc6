/**
 * The Incus REST client (endpoints, requests, operations, exec).
 */
export { DEFAULT_SOCKET, defaultEndpoint, remoteEndpoint } from './endpoint'
export type { Endpoint, EndpointOptions } from './endpoint'
export { IncusClient, IncusError } from './client'
export type { ApiResponse, InstanceFile, InstanceInfo, Operation, RequestOptions } from './client'
export { Exec, run } from './exec'
export type { ExecHandlers, ExecRequest } from './exec'
