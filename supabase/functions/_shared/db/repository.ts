/**
 * The base of the row repositories: a postgres.js client connected as the database owner (SUPABASE_DB_URL),
 * and jsonb parameters.
 *
 * @module
 */
import type postgres from "postgres";
import type { Sql } from "./client.ts";

/** A repository over the private SQL API; subclasses group the calls of one concept. */
export abstract class SqlRepository {
  /** The client every call goes through. */
  protected readonly sql: Sql;

  /** Wraps a postgres.js client connected as the database owner (SUPABASE_DB_URL). */
  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** A jsonb parameter. */
  protected json(value: object) {
    return this.sql.json(value as unknown as postgres.JSONValue);
  }
}
