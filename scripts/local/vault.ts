/** Vault helpers for the local stack and the tests (the stand-in has the same API as supabase_vault). */
import type postgres from "postgres";

/** Creates or updates a Vault secret by name (vault.create_secret fails on a duplicate name). */
export async function upsertVaultSecret(sql: postgres.Sql, name: string, value: string): Promise<void> {
  const [existing] = await sql<{ id: string }[]>`select id from vault.secrets where name = ${name}`;
  if (existing) await sql`select vault.update_secret(${existing.id}, ${value})`;
  else await sql`select vault.create_secret(${value}, ${name})`;
}
