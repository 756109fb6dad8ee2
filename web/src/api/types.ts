/** Names for the generated OpenAPI types (src/api/schema.d.ts, `make web-client`): aliases only. */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type ProjectView = Schemas["ProjectPublic"];
export type MemberView = Schemas["MemberPublic"];
export type ApiKeyView = Schemas["ApiKeyPublic"];
export type ApiKeyIssued = Schemas["ApiKeyIssuedPublic"];
export type DatasetView = Schemas["DatasetPublic"];
export type FileView = Schemas["FilePublic"];
export type FilePage = Schemas["FilePage"];
/** A file as a dataset's listing gives it (with `?predictions=`, the run's predicted instances). */
export type ListedFileView = Schemas["ListedFilePublic"];
export type SchemaView = Schemas["SchemaPublic"];
export type LabelSpec = Schemas["LabelSpec"];
export type AttributeGroup = Schemas["AttributeGroup"];
export type AnnotationsView = Schemas["AnnotationsPublic"];
export type AnnotationVersionView = Schemas["AnnotationVersionPublic"];
export type UploadTicket = Schemas["UploadTicketPublic"];
export type UploadView = Schemas["UploadPublic"];
/** A bulk import (COCO, YOLO, JSONL) with its progress. */
export type ImportView = Schemas["ImportPublic"];
export type LabelCounts = Schemas["LabelCountsPublic"];
export type Role = Schemas["Role"];
export type WebhookView = Schemas["WebhookPublic"];
export type WebhookCreated = Schemas["WebhookCreatedPublic"];
export type FailedDelivery = Schemas["FailedDeliveryPublic"];
export type JobView = Schemas["JobPublic"];
export type JobSpec = Schemas["JobSpec"];
export type JobStats = Schemas["JobStatsPublic"];
export type TaskView = Schemas["TaskPublic"];
export type TaskDetail = Schemas["TaskDetailPublic"];
export type TaskKind = Schemas["TaskKind"];
export type AnnotatorSubmission = Schemas["AnnotatorSubmissionPublic"];
/** An instance in the packet shape (`{"type": "box", "name": "car", ...}`), as the API carries it. */
export type PacketInstance = AnnotationsView["instance_list"][number];
