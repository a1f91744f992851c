\set n random(1, 9)
SELECT count(*) FROM events WHERE seq <= :n;
SELECT entity_id, event_type, payload FROM events WHERE entity_id = 'e' || (:n % 3) ORDER BY seq LIMIT 5;
SELECT event_type, count(*) FROM events GROUP BY event_type ORDER BY 1;
