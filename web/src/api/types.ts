/** Names for the generated OpenAPI types (src/api/schema.d.ts, `make web-client`): aliases only. */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type ProjectView = Schemas["ProjectView"];
export type MemberView = Schemas["MemberView"];
export type ApiKeyView = Schemas["ApiKeyView"];
export type ApiKeyIssued = Schemas["ApiKeyIssued"];
export type DatasetView = Schemas["DatasetView"];
export type FileView = Schemas["FileView"];
export type FilePage = Schemas["FilePage"];
export type SchemaView = Schemas["SchemaView"];
export type LabelSpec = Schemas["LabelSpec"];
export type AttributeGroup = Schemas["AttributeGroup"];
export type AnnotationsView = Schemas["AnnotationsView"];
export type AnnotationVersionView = Schemas["AnnotationVersionView"];
export type UploadTicket = Schemas["UploadTicket"];
export type UploadView = Schemas["UploadView"];
export type LabelCounts = Schemas["LabelCounts"];
export type Role = Schemas["Role"];
export type WebhookView = Schemas["WebhookView"];
export type WebhookCreated = Schemas["WebhookCreated"];
export type FailedDelivery = Schemas["FailedDelivery"];
export type JobView = Schemas["JobView"];
export type JobSpec = Schemas["JobSpec"];
export type JobStats = Schemas["JobStats"];
export type TaskView = Schemas["TaskView"];
export type TaskDetail = Schemas["TaskDetail"];
export type TaskKind = Schemas["TaskKind"];
export type AnnotatorSubmission = Schemas["AnnotatorSubmission"];
/** An instance in the Diffgram packet shape, as the API carries it (a JSON object). */
export type PacketInstance = AnnotationsView["instance_list"][number];
