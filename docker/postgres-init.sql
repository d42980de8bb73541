-- Airflow's metadata lives in the database the image creates (POSTGRES_DB);
-- the DuckLake catalog gets its own.
CREATE DATABASE lake;
