CREATE TABLE import_scratch (line text);
DROP TABLE import_scratch;
