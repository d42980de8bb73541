"""Machine learning on the lake: the sensor anomaly model and the model registry."""
