{{ flag_readings(ref('stg_sensors__readings')) }}
