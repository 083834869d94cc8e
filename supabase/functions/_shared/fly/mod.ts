/**
 * Typed client of the Fly Machines REST API: `createFlyClient({ token, baseUrl })`.
 *
 * @module
 */
export { createFlyClient, DEFAULT_FLY_API_BASE_URL } from "./client.ts";
export type { FlyClient, FlyClientOptions } from "./client.ts";
export * from "./errors.ts";
export type { CallScope, FlyAttemptLog } from "./transport.ts";
export type { RetryOptions } from "./retry_policy.ts";
export {
  DEFAULT_APP_CREATE_RULE,
  PER_ACTION_RULE,
  PER_IDENTIFIER_REFILL_MS,
  rateKeyFor,
  type RateRule,
} from "./rate_limits.ts";
export type { SharedBucketStore } from "./limiter.ts";
export type { AppsResource, DeleteAppOptions } from "./resources/apps.ts";
export type { IpAssignmentsResource } from "./resources/ip_assignments.ts";
export type { ListSecretsOptions, SecretsResource } from "./resources/secrets.ts";
export type {
  DeleteMachineOptions,
  ListMachinesOptions,
  MachinesResource,
  StopMachineOptions,
  WaitMachineOptions,
  WaitResult,
  WaitTargetState,
} from "./resources/machines.ts";
export type { AcquireLeaseOptions, LeasesResource } from "./resources/leases.ts";
export type { MetadataResource, UpdateMetadataOptions } from "./resources/metadata.ts";
export {
  type ListOrgMachinesOptions,
  type ListOrgMachinesPageOptions,
  ORG_MACHINES_MAX_LIMIT,
  type OrgMachinesListing,
  type OrgMachinesPage,
  type OrgMachinesResource,
} from "./resources/org_machines.ts";
export type { CallOptions, MachineMutationOptions } from "./resources/paths.ts";
export type { App, CreateAppRequest, CreateAppResponse } from "./schemas/apps.ts";
export type { AssignIpRequest, IpAssignment, IpAssignmentType } from "./schemas/ip_assignments.ts";
export type {
  AppSecret,
  AppSecretsUpdateResponse,
  DeleteAppSecretResponse,
  SetAppSecretResponse,
} from "./schemas/secrets.ts";
export type { Lease } from "./schemas/leases.ts";
export type { VolumesResource } from "./resources/volumes.ts";
export type {
  CreateVolumeRequest,
  ExtendVolumeResponse,
  MachineMount,
  UpdateVolumeRequest,
  Volume,
  VolumeSnapshot,
} from "./schemas/volumes.ts";
export type {
  CheckStatus,
  CreateMachineRequest,
  Machine,
  MachineConfig,
  MachineState,
  StartMachineResponse,
  UpdateMachineRequest,
} from "./schemas/machines.ts";
export type { MachineOverviewConfig, OrgMachine } from "./schemas/org_machines.ts";
