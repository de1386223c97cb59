-- gen-data, phase cleanup: the scratch schema.
DROP SCHEMA gen CASCADE;
