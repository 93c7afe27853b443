/**
 * A schema `pg_restore --jobs=2` reliably restores in the wrong order while a serial restore works:
 * `b_lines` has a CHECK constraint calling a function that reads `a_orders`. pg_dump cannot see that
 * dependency; pg_restore -j starts the larger `b_lines` COPY first, next to the `a_orders` COPY, and
 * its first row fails the check (the orders are not committed yet). A serial restore loads the
 * tables in TOC order (a_orders first).
 */
export const ORDERING_FIXTURE = `
CREATE TABLE a_orders (id int PRIMARY KEY, note text);
CREATE FUNCTION order_exists(int) RETURNS boolean LANGUAGE sql STABLE
  AS $$ SELECT EXISTS (SELECT 1 FROM public.a_orders WHERE id = $1) $$;
CREATE TABLE b_lines (order_id int CHECK (public.order_exists(order_id)), qty int, filler text);
INSERT INTO a_orders SELECT g, 'order ' || g FROM generate_series(1, 50000) g;
INSERT INTO b_lines SELECT 1 + g % 50000, g, repeat(md5(g::text), 50) FROM generate_series(1, 2000) g;
VACUUM ANALYZE;`;
