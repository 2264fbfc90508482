#!/usr/bin/env python3
"""gen_data.py DIR [LINES [SQL_ROWS]] - the input data of the real-program
workloads (tests/programs/workloads.sh), written into DIR:

  records.csv   LINES lines (default 2,000,000) "id,key,city,amount,text"
                for sort and awk: key k00000..k49999, city one of 200 words,
                amount 0..99999, text 3..8 words from a 2,048-word vocabulary
  workload.sql  a sqlite3 CLI script of some 22,000 statements over
                SQL_ROWS order rows (default 20,000): tables, inserts in and
                out of transactions, indexes, joins, GROUP BY, window
                functions, a recursive CTE, JSON, updates, deletes

The output depends only on the arguments (fixed generators, no hashing of
strings, no clock), so every run of every allocator sees the same bytes.
"""
import os
import random
import sys


class Lcg:
    """Park-Miller minimal standard generator: fixed, portable."""

    def __init__(self, seed):
        self.x = seed % 2147483647 or 1

    def next(self):
        self.x = self.x * 16807 % 2147483647
        return self.x

    def below(self, n):
        return self.next() % n


def vocabulary(rng, n, lo=2, hi=10):
    letters = "abcdefghijklmnopqrstuvwxyz"
    seen, words = set(), []
    while len(words) < n:
        w = "".join(letters[rng.below(26)] for _ in range(lo + rng.below(hi - lo + 1)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def records(path, lines):
    rng = Lcg(12345)
    words = vocabulary(rng, 2048)
    cities = vocabulary(rng, 200, 4, 9)
    # One 64-bit and one 88-bit draw per line from Python's Mersenne Twister
    # (getrandbits of a seeded random.Random is the same in every Python 3).
    mt = random.Random(12345)
    bits = mt.getrandbits
    with open(path, "w", encoding="ascii", newline="\n") as f:
        chunk = []
        for i in range(lines):
            r = bits(64)
            nw = 3 + (r >> 58) % 6
            t = bits(11 * nw)
            text = " ".join([words[(t >> (11 * k)) & 2047] for k in range(nw)])
            chunk.append(f"{i},k{r % 50000:05d},{cities[(r >> 16) % 200]},{(r >> 24) % 100000},"
                         f"{text}\n")
            if len(chunk) == 20000:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))


def sql(path, rows):
    rng = Lcg(777)
    names = vocabulary(rng, 300, 3, 8)
    out = []
    w = out.append
    w(".bail on")
    w("PRAGMA journal_mode=WAL;")
    w("PRAGMA synchronous=OFF;")
    w("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, "
      "score REAL, meta TEXT);")
    w("CREATE TABLE product(id INTEGER PRIMARY KEY, title TEXT UNIQUE, price INTEGER, "
      "category TEXT);")
    w("CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id), "
      "product INTEGER REFERENCES product(id), qty INTEGER, day TEXT, note TEXT);")
    ncust, nprod = 500, 200
    w("BEGIN;")
    for c in range(1, ncust + 1):
        name = names[rng.below(300)] + " " + names[rng.below(300)]
        city = names[rng.below(40)]
        score = rng.below(10000) / 100
        meta = '{"tier": %d, "tags": ["%s", "%s"]}' % (rng.below(4), names[rng.below(300)],
                                                      names[rng.below(300)])
        w(f"INSERT INTO customer VALUES({c}, '{name}', '{city}', {score}, '{meta}');")
    w("COMMIT;")
    for p in range(1, nprod + 1):  # outside a transaction: one commit each
        title = f"{names[rng.below(300)]}-{p}"
        w(f"INSERT INTO product VALUES({p}, '{title}', {100 + rng.below(99900)}, "
          f"'{names[rng.below(12)]}');")
    w("BEGIN;")
    for o in range(1, rows + 1):
        note = " ".join(names[rng.below(300)] for _ in range(1 + rng.below(12)))
        w(f"INSERT INTO orders(customer, product, qty, day, note) VALUES({1 + rng.below(ncust)}, "
          f"{1 + rng.below(nprod)}, {1 + rng.below(20)}, "
          f"'2024-{1 + rng.below(12):02d}-{1 + rng.below(28):02d}', '{note}');")
    w("COMMIT;")
    w("CREATE INDEX orders_customer ON orders(customer);")
    w("CREATE INDEX orders_product_day ON orders(product, day);")
    w("CREATE INDEX customer_city ON customer(city, score);")
    w("SELECT count(*), sum(qty), min(day), max(day) FROM orders;")
    w("SELECT c.city, count(*), sum(o.qty * p.price) FROM orders o JOIN customer c ON "
      "c.id = o.customer JOIN product p ON p.id = o.product GROUP BY c.city ORDER BY 3 DESC, 1;")
    w("SELECT p.category, substr(o.day, 1, 7) AS month, sum(o.qty) FROM orders o JOIN product p "
      "ON p.id = o.product GROUP BY 1, 2 ORDER BY 1, 2;")
    w("SELECT customer, total, rnk FROM (SELECT customer, sum(qty) AS total, rank() OVER "
      "(ORDER BY sum(qty) DESC, customer) AS rnk FROM orders GROUP BY customer) WHERE rnk <= 25;")
    w("SELECT json_extract(meta, '$.tier') AS tier, count(*), round(avg(score), 3) FROM customer "
      "GROUP BY tier ORDER BY tier;")
    w("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
      "SELECT count(*), sum(i * i % 977), group_concat(i % 10, '') LIKE '1234%' FROM n;")
    w("SELECT length(group_concat(note, '|')), count(DISTINCT note) FROM orders;")
    # Updates and deletes, one statement each.
    for k in range(600):
        c = 1 + rng.below(ncust)
        w(f"UPDATE customer SET score = score * 1.01 + {k % 7}, meta = json_set(meta, '$.seen', "
          f"{k}) WHERE id = {c};")
    for k in range(400):
        lo = 1 + rng.below(rows)
        w(f"UPDATE orders SET qty = qty + 1, note = note || ' upd{k}' WHERE id BETWEEN {lo} AND "
          f"{lo + 3};")
    for k in range(300):
        w(f"DELETE FROM orders WHERE id = {1 + rng.below(rows)};")
    w("DELETE FROM orders WHERE customer IN (SELECT id FROM customer WHERE score < 5);")
    w("DELETE FROM customer WHERE id NOT IN (SELECT customer FROM orders);")
    w("CREATE TABLE summary AS SELECT customer, count(*) AS n, sum(qty) AS q, "
      "group_concat(product) AS prods FROM orders GROUP BY customer;")
    w("SELECT count(*), sum(n), sum(q), sum(length(prods)) FROM summary;")
    w("SELECT c.name, s.n, s.q FROM summary s JOIN customer c ON c.id = s.customer "
      "ORDER BY s.q DESC, c.id LIMIT 20;")
    w("SELECT count(*), sum(qty), total(length(note)) FROM orders;")
    w("SELECT city, count(*), round(sum(score), 2) FROM customer GROUP BY city ORDER BY city;")
    w("DROP INDEX orders_product_day;")
    w("SELECT product, count(*) FROM orders GROUP BY product HAVING count(*) > 25 "
      "ORDER BY 2 DESC, 1;")
    w("PRAGMA integrity_check;")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    os.makedirs(d, exist_ok=True)
    records(os.path.join(d, "records.csv"), lines)
    sql(os.path.join(d, "workload.sql"), rows)


if __name__ == "__main__":
    main()
