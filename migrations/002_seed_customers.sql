INSERT INTO customers (email) VALUES ('ada@example.com'), ('grace@example.com');
