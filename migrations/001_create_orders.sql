-- The example app's schema. Each file runs in its own transaction; ci-toolkit records it
-- in ci_toolkit_migrations so a re-run on a kept stack applies only new files.
CREATE TABLE customers (
    id    serial PRIMARY KEY,
    email text NOT NULL UNIQUE
);

CREATE TABLE orders (
    id          serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total_cents integer NOT NULL CHECK (total_cents >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
