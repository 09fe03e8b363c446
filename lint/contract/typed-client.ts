// Compiled by `make lint` (tsc --strict) against the types openapi-typescript generates from
// api/openapi.yaml with its default options: a typed client can build every request the app
// sends and read every answer without a cast.
import type { components, operations, paths } from "./generated/openapi";

type Schemas = components["schemas"];

// A push of two offline mutations: a receipt made offline, and an edit that removes a field.
const madeOffline: Schemas["SyncPushItem"] = {
  receiptId: "0b8f7c52-8f0e-4f4e-9a57-5b8f3f8a1c11",
  mutationId: "m-1",
  storeName: "IKEA",
  totalAmount: "129.90",
  currency: "EUR",
  items: [{ description: "Lamp", quantity: 1, unitPrice: "129.90" }],
  tags: ["home"],
  status: "active",
};
const edited: Schemas["SyncPushItem"] = {
  receiptId: "7d1c2a3e-0f4b-4c5d-8e9f-a0b1c2d3e4f5",
  serverVersion: 3,
  notes: "Receipt kept in the drawer",
  taxAmount: null,
  userEditedFields: ["notes"],
};
export const push: Schemas["SyncPushRequest"] = { items: [madeOffline, edited] };

// Every outcome names its receipt's current state, or why not.
export function describe(response: Schemas["SyncPushResponse"]): string[] {
  return response.results.map((result) => {
    const reason = result.error ? `${result.error.error}: ${result.error.message}` : "";
    const fields = result.error?.details.map((detail) => detail.field ?? "body").join(", ") ?? "";
    return `${result.outcome} v${result.item?.serverVersion ?? "-"} ${reason} ${fields}`;
  });
}

// A 409 of a receipt write carries the receipt as stored now.
type UpdateConflict = operations["updateReceipt"]["responses"][409]["content"]["application/json"];
export function rebase(conflict: UpdateConflict, mine: Schemas["ReceiptUpdate"]): Schemas["ReceiptUpdate"] | null {
  const current: Schemas["Receipt"] | undefined = conflict.current;
  return current ? { ...mine, serverVersion: current.serverVersion } : null;
}

// The settings' 409 always carries the current settings.
type SettingsConflict = paths["/user/settings"]["put"]["responses"][409]["content"]["application/json"];
export const version = (conflict: SettingsConflict): number => conflict.current.serverVersion;

// Errors share one shape, the gateway's included.
export const firstProblem = (error: Schemas["Error"]): string | undefined => error.details[0]?.message;
