-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d).
-- One database per service; each service creates its own tables in its own database.
-- To run it again: docker compose down --volumes.
CREATE DATABASE intake OWNER atoz;
CREATE DATABASE adjudication OWNER atoz;
CREATE DATABASE metrics OWNER atoz;
