-- columns: id, title, price
SELECT "e"."entity_id" AS "id", json_extract("e"."payload", '$.title') AS "title", json_extract("e"."payload", '$.price') AS "price" FROM events AS "e" WHERE (("e"."event_type" = 'book.acquired') AND (TRY_CAST(json_extract_string("e"."payload", '$.price') AS DOUBLE) > 10));

-- doc
SELECT CAST(json_object('id', to_json("e"."entity_id"), 'title', json_extract("e"."payload", '$.title'), 'price', json_extract("e"."payload", '$.price')) AS VARCHAR) AS doc FROM events AS "e" WHERE (("e"."event_type" = 'book.acquired') AND (TRY_CAST(json_extract_string("e"."payload", '$.price') AS DOUBLE) > 10));
