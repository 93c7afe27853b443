-- The sample database's rows, generated from generate_series and the psql variable `scale`
-- (psql -v scale=N). Deterministic: no random(), every value is a function of the row number and of
-- fixed base timestamps in 2024, and ids are explicit, so two loads hold identical content.
-- Row counts per unit of scale (scale 1 is a ~20 MB database): customers 1,800; products 300;
-- orders 7,200; order_items 21,600; payments 5,760; events 21,600 (over 12 monthly partitions);
-- large objects 30 (8 kB each).

SET TimeZone = 'UTC';

INSERT INTO shop.categories (id, name, parent_id) OVERRIDING SYSTEM VALUE
  SELECT g, (ARRAY['Books', 'Garden', 'Kitchen', 'Music', 'Outdoor', 'Office', 'Toys', 'Tools'])[g], NULL
    FROM generate_series(1, 8) g;
INSERT INTO shop.categories (id, name, parent_id) OVERRIDING SYSTEM VALUE
  SELECT 8 + g, 'Sub-category ' || g, 1 + (g - 1) % 8
    FROM generate_series(1, 32) g;

INSERT INTO shop.customers (id, email, full_name, country, preferences, created_at, updated_at)
  SELECT g,
         'customer' || g || '@example.' || (ARRAY['com', 'org', 'net', 'de', 'fr'])[1 + g % 5],
         initcap(substr(md5('first' || g), 1, 6)) || ' ' || initcap(substr(md5('last' || g), 1, 9)),
         (ARRAY['US', 'DE', 'FR', 'GB', 'NL', 'SE', 'JP', 'BR', 'CA', 'AU'])[1 + (g * 7) % 10],
         jsonb_build_object(
           'newsletter', g % 3 = 0,
           'language', (ARRAY['en', 'de', 'fr', 'ja'])[1 + g % 4],
           'saved_filters', jsonb_build_array(substr(md5('f' || g), 1, 12), substr(md5('g' || g), 1, 12))
         ),
         timestamptz '2023-01-01 00:00:00+00' + (g % 365) * interval '1 day' + (g * 37 % 86400) * interval '1 second',
         timestamptz '2024-01-01 00:00:00+00' + (g * 53 % 86400) * interval '1 second'
    FROM generate_series(1, (1800 * :scale)::int) g;

INSERT INTO shop.products (id, sku, name, category_id, price_cents, attributes, thumbnail, manual_oid, created_at)
  SELECT g,
         'SKU-' || lpad(g::text, 8, '0'),
         'Product ' || g || ' ' || substr(md5('product' || g), 1, 10),
         9 + (g * 13) % 32,
         199 + (g * 7919) % 49800,
         jsonb_build_object(
           'color', (ARRAY['red', 'green', 'blue', 'black', 'white'])[1 + g % 5],
           'weight_g', 50 + (g * 31) % 5000,
           'tags', jsonb_build_array('tag' || g % 17, 'tag' || g % 23)
         ),
         decode(repeat(md5('thumb' || g) || md5('nail' || g), 8), 'hex'),
         CASE WHEN g % 10 = 0 THEN 1000000 + g END,
         timestamptz '2023-06-01 00:00:00+00' + (g % 200) * interval '1 day'
    FROM generate_series(1, (300 * :scale)::int) g;

-- Large objects with fixed OIDs (per database, so each load gets the same ones).
SELECT count(lo_from_bytea(manual_oid, manual))
  FROM shop.products,
       LATERAL (SELECT decode(string_agg(md5('manual' || id || '.' || k), '' ORDER BY k), 'hex') AS manual
                  FROM generate_series(1, 512) k) pages
 WHERE manual_oid IS NOT NULL;

INSERT INTO shop.orders (id, customer_id, status, shipping_address, note, placed_at, updated_at)
  SELECT g,
         1 + (g::bigint * 7919) % (1800 * :scale)::int,
         (ARRAY['pending', 'paid', 'shipped', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered',
                'cancelled', 'refunded'])[1 + g % 10]::shop.order_status,
         jsonb_build_object(
           'street', (g % 997) || ' ' || initcap(substr(md5('street' || g), 1, 8)) || ' Street',
           'city', initcap(substr(md5('city' || g % 500), 1, 7)),
           'zip', lpad(((g * 7) % 100000)::text, 5, '0')
         ),
         CASE WHEN g % 7 = 0 THEN 'Please leave at the door ' || substr(md5('note' || g), 1, 16) END,
         timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 104729) % 31536000) * interval '1 second',
         timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 104729) % 31536000 + 3600) * interval '1 second'
    FROM generate_series(1, (7200 * :scale)::int) g;

INSERT INTO shop.order_items (order_id, line_no, product_id, quantity, unit_price_cents)
  SELECT o, l, p, 1 + (o + l) % 4, 199 + (p * 7919) % 49800
    FROM generate_series(1, (7200 * :scale)::int) o,
         LATERAL generate_series(1, 1 + o % 5) l,
         LATERAL (SELECT 1 + (o * 31 + l * 17) % (300 * :scale)::int AS p) pick;

INSERT INTO shop.payments (id, order_id, invoice_no, method, amount_cents, provider_ref, paid_at) OVERRIDING SYSTEM VALUE
  SELECT row_number() OVER (ORDER BY o.id), o.id,
         99999 + row_number() OVER (ORDER BY o.id),
         (ARRAY['card', 'card', 'card', 'paypal', 'bank_transfer', 'gift_card'])[1 + o.id % 6]::shop.payment_method,
         shop.order_total_cents(o.id),
         'pay_' || md5('payment' || o.id),
         o.placed_at + (o.id % 600) * interval '1 second'
    FROM shop.orders o
   WHERE o.status NOT IN ('pending', 'cancelled')
   ORDER BY o.id;

INSERT INTO shop.events (id, occurred_at, customer_id, kind, payload)
  SELECT g,
         timestamptz '2024-01-01 00:00:00+00' + ((g::bigint * 7907) % 31536000) * interval '1 second',
         CASE WHEN g % 9 <> 0 THEN 1 + (g * 31) % (1800 * :scale)::int END,
         (ARRAY['page_view', 'page_view', 'page_view', 'search', 'add_to_cart', 'checkout', 'login'])[1 + g % 7],
         jsonb_build_object(
           'session', md5('session' || g / 20),
           'path', '/products/' || (1 + g % (300 * :scale)::int),
           'referrer', (ARRAY['google', 'newsletter', 'direct', 'partner'])[1 + g % 4],
           'user_agent', 'Mozilla/5.0 (sample ' || g % 50 || ')',
           'duration_ms', (g * 37) % 5000
         )
    FROM generate_series(1, (21600 * :scale)::int) g;

-- Sequences and identities continue after the explicit ids.
SELECT setval(pg_get_serial_sequence('shop.customers', 'id'), (SELECT max(id) FROM shop.customers));
SELECT setval(pg_get_serial_sequence('shop.products', 'id'), (SELECT max(id) FROM shop.products));
SELECT setval(pg_get_serial_sequence('shop.orders', 'id'), (SELECT max(id) FROM shop.orders));
SELECT setval(pg_get_serial_sequence('shop.payments', 'id'), (SELECT max(id) FROM shop.payments));
SELECT setval(pg_get_serial_sequence('shop.events', 'id'), (SELECT max(id) FROM shop.events));
SELECT setval(pg_get_serial_sequence('shop.categories', 'id'), 40);
SELECT setval('shop.invoice_number_seq', (SELECT max(invoice_no) FROM shop.payments));

REFRESH MATERIALIZED VIEW shop.daily_sales;
ANALYZE;
