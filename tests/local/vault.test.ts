/** The Vault stand-in keeps supabase_vault's contract: round trip, update, unique names, no plain text. */
import { assertEquals, assertRejects } from "../_support/assert.ts";
import { createScratchDatabase } from "../_support/database.ts";

Deno.test("vault: create, read decrypted, update, and a duplicate name fails", async () => {
  const db = await createScratchDatabase({ standIns: true });
  try {
    const [{ id }] = await db.sql<
      { id: string }[]
    >`select vault.create_secret('s3cret-value', 'my_name') as id`;
    const [stored] = await db.sql`select secret from vault.secrets where id = ${id}`;
    assertEquals(stored.secret === "s3cret-value", false);
    const [read] = await db.sql`select name, decrypted_secret from vault.decrypted_secrets where id = ${id}`;
    assertEquals({ ...read }, { name: "my_name", decrypted_secret: "s3cret-value" });

    await db.sql`select vault.update_secret(${id}, 'rotated')`;
    const [rotated] = await db
      .sql`select name, decrypted_secret from vault.decrypted_secrets where id = ${id}`;
    assertEquals({ ...rotated }, { name: "my_name", decrypted_secret: "rotated" });

    await assertRejects(() => db.sql`select vault.create_secret('other', 'my_name')`, Error, "duplicate key");
  } finally {
    await db.drop();
  }
});

Deno.test("vault: the API roles other than service_role cannot read secrets", async () => {
  const db = await createScratchDatabase({ standIns: true });
  try {
    await db.sql`select vault.create_secret('hidden', 'private_name')`;
    for (const role of ["anon", "authenticated"]) {
      await assertRejects(
        () =>
          db.sql.begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx`select decrypted_secret from vault.decrypted_secrets`;
          }),
        Error,
        "permission denied",
      );
    }
  } finally {
    await db.drop();
  }
});
