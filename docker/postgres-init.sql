-- The application's own role: it may append to the log, never edit it. The owner
-- (postgres) creates the tables and then runs `petition db protect --app-role ledger_app`
-- (the `setup` service in docker-compose.yml does both).
CREATE ROLE ledger_app LOGIN;
GRANT USAGE ON SCHEMA public TO ledger_app;
