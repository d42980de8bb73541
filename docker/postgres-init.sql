-- Airflow's metadata lives in the database the image creates (POSTGRES_DB);
-- the DuckLake catalog and MLflow get their own.
CREATE DATABASE lake;
-- MLflow's runs, models and versions.
CREATE DATABASE mlflow;
