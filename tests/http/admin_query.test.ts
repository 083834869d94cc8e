/** The admin API's paging parameters: a bad cursor or position is a 400 naming it, never a failing query. */
import { assert, assertEquals } from "../_support/assert.ts";
import {
  appListQuery,
  encodeCursor,
  userEventsQuery,
} from "../../supabase/functions/_shared/admin/schemas.ts";

const ID = "7b0c4f8e-2d3a-4e5b-9c6d-0a1b2c3d4e5f";

/** The paths of the issues of parsing `query`, or [] when it parses. */
function issuesOf(query: Record<string, string>): string[] {
  const parsed = appListQuery.safeParse(query);
  return parsed.success ? [] : parsed.error.issues.map((issue) => issue.path.join("."));
}

Deno.test("admin query: cursors the API made parse, for their sort", () => {
  const at = encodeCursor({ id: ID, sort_value: "2026-12-06 19:34:16.022008+00" });
  assertEquals(issuesOf({ cursor: at }), []);
  assertEquals(issuesOf({ sort: "retry_count", cursor: encodeCursor({ id: ID, sort_value: "3" }) }), []);
  assertEquals(issuesOf({ sort: "cost", cursor: encodeCursor({ id: ID, sort_value: "12.50" }) }), []);
  assertEquals(issuesOf({ sort: "user_id", cursor: encodeCursor({ id: ID, sort_value: "anything" }) }), []);
});

Deno.test("admin query: malformed cursors are refused by name", () => {
  for (
    const [sort, value] of [
      ["updated_at", "not a time"],
      ["updated_at", "2026-02-31 10:00:00+00"],
      ["created_at", "2026-12-06 25:00:00+00"],
      ["retry_count", "99999999999999999999"],
      ["cost", "1e400"],
    ]
  ) {
    assertEquals(issuesOf({ sort, cursor: encodeCursor({ id: ID, sort_value: value }) }), ["cursor"], value);
  }
  for (const garbage of ["%%%", "eyJ2YWx1ZSI6MX0", btoa(JSON.stringify({ value: "x", id: "not-a-uuid" }))]) {
    assertEquals(issuesOf({ cursor: garbage }), ["cursor"], garbage);
  }
});

Deno.test("admin query: an event position beyond any event is refused", () => {
  assert(!userEventsQuery.safeParse({ before: "1e30" }).success);
  assert(userEventsQuery.safeParse({ before: "42" }).success);
});
